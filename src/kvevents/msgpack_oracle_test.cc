// msgpack-cxx (Debian's libmsgpack-cxx-dev) as an independent oracle for our hand-written codec:
// what we encode must read back through msgpack-cxx with vLLM's layout and types, and batches that
// msgpack-cxx packs in vLLM's legacy array form must decode to the same events.

#include <cstdint>
#include <string>

#include <msgpack.hpp>

#include <gtest/gtest.h>

#include "kvevents/events.h"

namespace llmd::kvevents {
namespace {

const msgpack::object& field(const msgpack::object& map, std::string_view key) {
  static const msgpack::object kNil;
  for (uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      return kv.val;
    }
  }
  return kNil;
}

std::string str(const msgpack::object& o) { return o.as<std::string>(); }

TEST(MsgpackOracle, OurMapEncodingReadsBackThroughMsgpackCxx) {
  EventBatch batch;
  batch.ts = 1732000000.25;
  BlockStored stored;
  stored.block_hashes = {0xfedcba9876543210ull, 7};
  stored.parent_block_hash = 0x8000000000000001ull;
  stored.token_ids = {1, 2, 3, 70000};
  stored.block_size = 16;
  stored.medium = std::string(kMediumGpu);
  batch.events.push_back(stored);
  BlockRemoved removed;
  removed.block_hashes = {42};
  removed.medium = std::string(kMediumGpu);
  batch.events.push_back(removed);
  batch.events.push_back(AllBlocksCleared{});
  batch.data_parallel_rank = 3;
  const std::string bytes = encode_batch(batch, Encoding::kMap);

  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  const msgpack::object& root = h.get();
  ASSERT_EQ(root.type, msgpack::type::ARRAY);
  ASSERT_EQ(root.via.array.size, 3u);
  // msgspec writes the timestamp as float64 even when it is integral; so must we.
  EXPECT_EQ(root.via.array.ptr[0].type, msgpack::type::FLOAT64);
  EXPECT_DOUBLE_EQ(root.via.array.ptr[0].as<double>(), batch.ts);
  EXPECT_EQ(root.via.array.ptr[2].as<int64_t>(), 3);
  const msgpack::object& events = root.via.array.ptr[1];
  ASSERT_EQ(events.type, msgpack::type::ARRAY);
  ASSERT_EQ(events.via.array.size, 3u);

  const msgpack::object& e0 = events.via.array.ptr[0];
  ASSERT_EQ(e0.type, msgpack::type::MAP);
  EXPECT_EQ(str(field(e0, "type")), "BlockStored");
  const msgpack::object& hashes = field(e0, "block_hashes");
  ASSERT_EQ(hashes.type, msgpack::type::ARRAY);
  ASSERT_EQ(hashes.via.array.size, 2u);
  EXPECT_EQ(hashes.via.array.ptr[0].as<uint64_t>(), 0xfedcba9876543210ull);
  EXPECT_EQ(hashes.via.array.ptr[1].as<uint64_t>(), 7u);
  EXPECT_EQ(field(e0, "parent_block_hash").as<uint64_t>(), 0x8000000000000001ull);
  EXPECT_EQ(field(e0, "token_ids").as<std::vector<uint32_t>>(), stored.token_ids);
  EXPECT_EQ(field(e0, "block_size").as<int64_t>(), 16);
  EXPECT_EQ(str(field(e0, "medium")), "GPU");

  const msgpack::object& e1 = events.via.array.ptr[1];
  EXPECT_EQ(str(field(e1, "type")), "BlockRemoved");
  EXPECT_EQ(field(e1, "block_hashes").as<std::vector<uint64_t>>(), std::vector<uint64_t>{42});
  EXPECT_EQ(str(field(events.via.array.ptr[2], "type")), "AllBlocksCleared");
}

TEST(MsgpackOracle, LegacyArraysPackedByMsgpackCxxDecodeToTheSameEvents) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);
  pk.pack_double(1732000001.5);
  pk.pack_array(3);
  // BlockStored: tag, block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium
  pk.pack_array(7);
  pk.pack(std::string("BlockStored"));
  pk.pack(std::vector<uint64_t>{0xffffffffffffffffull, 5});
  pk.pack_nil();
  pk.pack(std::vector<uint32_t>{9, 8, 7});
  pk.pack(16);
  pk.pack_nil();
  pk.pack(std::string("GPU"));
  // BlockRemoved: tag, block_hashes, medium
  pk.pack_array(3);
  pk.pack(std::string("BlockRemoved"));
  pk.pack(std::vector<uint64_t>{5});
  pk.pack(std::string("GPU"));
  pk.pack_array(1);
  pk.pack(std::string("AllBlocksCleared"));
  pk.pack_nil();  // data_parallel_rank

  auto decoded = decode_batch(std::string_view(buf.data(), buf.size()));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->skipped_events, 0u);
  const EventBatch& b = decoded->batch;
  EXPECT_DOUBLE_EQ(b.ts, 1732000001.5);
  EXPECT_FALSE(b.data_parallel_rank.has_value());
  ASSERT_EQ(b.events.size(), 3u);
  const auto* s = std::get_if<BlockStored>(&b.events[0]);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->block_hashes, (std::vector<uint64_t>{0xffffffffffffffffull, 5}));
  EXPECT_FALSE(s->parent_block_hash.has_value());
  EXPECT_EQ(s->token_ids, (std::vector<uint32_t>{9, 8, 7}));
  EXPECT_EQ(s->block_size, 16);
  EXPECT_EQ(s->medium, std::optional<std::string>("GPU"));
  const auto* r = std::get_if<BlockRemoved>(&b.events[1]);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->block_hashes, std::vector<uint64_t>{5});
  EXPECT_TRUE(std::holds_alternative<AllBlocksCleared>(b.events[2]));
}

}  // namespace
}  // namespace llmd::kvevents
