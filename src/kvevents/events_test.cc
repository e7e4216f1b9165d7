// Golden bytes of one vLLM KV-event batch (BlockStored and BlockRemoved of one block, as msgspec encodes
// vllm/distributed/kv_events.py's EventBatch: legacy positional form 109 bytes, map form 266 bytes),
// spelled out field by field, plus round trips and the decoder's tolerance rules.

#include "kvevents/events.h"

#include <gtest/gtest.h>

#include "kvevents/msgpack.h"

namespace llmd::kvevents {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string fixstr(std::string_view s) {
  return std::string(1, static_cast<char>(0xa0 | s.size())) + std::string(s);
}

constexpr uint64_t kHash = 15760518052499183552ull;  // 0xdab89baa7b5857c0

EventBatch example_batch() {
  BlockStored stored;
  stored.block_hashes = {kHash};
  for (uint32_t t = 1; t <= 16; ++t) stored.token_ids.push_back(t);
  stored.block_size = 16;
  stored.medium = "GPU";
  stored.extra_keys = std::vector<BlockExtraKeys>{std::nullopt};
  stored.group_idx = 0;
  stored.kv_cache_spec_kind = "full_attention";
  BlockRemoved removed;
  removed.block_hashes = {kHash};
  removed.medium = "GPU";
  removed.group_idx = 0;
  return EventBatch{1700000000.5, {stored, removed}, 0};
}

TEST(EventsTest, LegacyArrayGoldenBytes) {
  std::string expected = unhex(
      "93"
      "cb41d954fc40200000"
      "92"
      "9b");
  expected += fixstr("BlockStored");
  expected += unhex(
      "91cfdab89baa7b5857c0"
      "c0"
      "dc0010"
      "0102030405060708090a0b0c0d0e0f10"
      "10"
      "c0");
  expected += fixstr("GPU");
  expected += unhex(
      "c0"
      "91c0"
      "00");
  expected += fixstr("full_attention");
  expected += unhex("94");
  expected += fixstr("BlockRemoved");
  expected += unhex("91cfdab89baa7b5857c0");
  expected += fixstr("GPU");
  expected += unhex(
      "00"
      "00");
  ASSERT_EQ(expected.size(), 109u);
  EXPECT_EQ(encode_batch(example_batch(), Encoding::kArray), expected);
}

TEST(EventsTest, MapGoldenBytes) {
  std::string expected = unhex(
      "93cb41d954fc40200000"
      "92"
      "8b");
  expected += fixstr("type") + fixstr("BlockStored");
  expected += fixstr("block_hashes") + unhex("91cfdab89baa7b5857c0");
  expected += fixstr("parent_block_hash") + unhex("c0");
  expected += fixstr("token_ids") + unhex(
                                        "dc0010"
                                        "0102030405060708090a0b0c0d0e0f10");
  expected += fixstr("block_size") + unhex("10");
  expected += fixstr("lora_id") + unhex("c0");
  expected += fixstr("medium") + fixstr("GPU");
  expected += fixstr("lora_name") + unhex("c0");
  expected += fixstr("extra_keys") + unhex("91c0");
  expected += fixstr("group_idx") + unhex("00");
  expected += fixstr("kv_cache_spec_kind") + fixstr("full_attention");
  expected += unhex("84") + fixstr("type") + fixstr("BlockRemoved");
  expected += fixstr("block_hashes") + unhex("91cfdab89baa7b5857c0");
  expected += fixstr("medium") + fixstr("GPU");
  expected += fixstr("group_idx") + unhex("00");
  expected += unhex("00");
  ASSERT_EQ(expected.size(), 266u);
  const std::string got = encode_batch(example_batch(), Encoding::kMap);
  EXPECT_EQ(got, expected);
  // The envelope, the timestamp and the map-form BlockStored up to its first block hash.
  EXPECT_EQ(got.substr(0, 44),
            unhex("93cb41d954fc40200000928ba474797065ab426c6f636b53746f726564ac626c6f636b5f6861736865"
                  "7391cf"));
}

TEST(EventsTest, AllBlocksClearedBothForms) {
  const EventBatch b{1700000000.5, {AllBlocksCleared{}}, 0};
  EXPECT_EQ(encode_batch(b, Encoding::kArray), unhex("93cb41d954fc40200000"
                                                     "9191") +
                                                   fixstr("AllBlocksCleared") + unhex("00"));
  EXPECT_EQ(encode_batch(b, Encoding::kMap), unhex("93cb41d954fc40200000"
                                                   "9181") +
                                                 fixstr("type") + fixstr("AllBlocksCleared") + unhex("00"));
}

TEST(EventsTest, LegacyFormKeepsNonTrailingDefaultsAsNil) {
  BlockStored s;
  s.block_hashes = {1};
  s.block_size = 16;
  s.locality = "LOCAL";  // last field set, everything optional before it written as nil
  const std::string enc = encode_batch(EventBatch{1.0, {s}, std::nullopt}, Encoding::kArray);
  // Envelope without data_parallel_rank is a 2-array; the event is a 13-array.
  EXPECT_EQ(static_cast<uint8_t>(enc[0]), 0x92);
  EXPECT_EQ(static_cast<uint8_t>(enc[11]), 0x9d);
  auto dec = decode_batch(enc);
  ASSERT_TRUE(dec.has_value()) << dec.error().message;
  EXPECT_EQ(dec->batch.events.at(0), Event(s));
  EXPECT_FALSE(dec->batch.data_parallel_rank.has_value());
}

TEST(EventsTest, RoundTripBothForms) {
  EventBatch b = example_batch();
  auto& stored = std::get<BlockStored>(b.events[0]);
  stored.parent_block_hash = 0xffffffffffffffffull;
  stored.lora_id = 3;
  stored.lora_name = "sql-lora";
  stored.extra_keys = std::vector<BlockExtraKeys>{std::vector<ExtraKey>{
      ExtraKey::text("sql-lora"), ExtraKey::mm_item("img0", 4), ExtraKey::bytes("\x01\x02")}};
  stored.kv_cache_spec_sliding_window = 128;
  b.events.push_back(AllBlocksCleared{});
  for (Encoding enc : {Encoding::kMap, Encoding::kArray}) {
    auto dec = decode_batch(encode_batch(b, enc));
    ASSERT_TRUE(dec.has_value()) << dec.error().message;
    EXPECT_EQ(dec->batch, b);
    EXPECT_EQ(dec->skipped_events, 0u);
  }
}

TEST(EventsTest, DecoderAcceptsOtherProducersShapes) {
  // Map event with keys in another order, int64 and bytes hashes, unknown keys, unknown tag.
  std::string p;
  msgpack::Writer w(p);
  w.array_head(2);
  w.float64(2.5);
  w.array_head(3);
  w.map_head(4);
  w.str("block_hashes");
  w.array_head(2);
  w.sint(-1);
  w.bin(std::string("\xaa\xbb\x00\x00\x00\x00\x00\x00\x00\x07", 10));
  w.str("future_field");
  w.str("x");
  w.str("medium");
  w.nil();
  w.str("type");
  w.str("BlockRemoved");
  w.map_head(1);
  w.str("type");
  w.str("SomethingNew");
  w.array_head(1);
  w.str("AllBlocksCleared");
  auto dec = decode_batch(p);
  ASSERT_TRUE(dec.has_value()) << dec.error().message;
  EXPECT_DOUBLE_EQ(dec->batch.ts, 2.5);
  ASSERT_EQ(dec->batch.events.size(), 2u);
  const auto& rm = std::get<BlockRemoved>(dec->batch.events[0]);
  EXPECT_EQ(rm.block_hashes, (std::vector<uint64_t>{~0ull, 7ull}));
  EXPECT_FALSE(rm.medium.has_value());
  EXPECT_TRUE(std::holds_alternative<AllBlocksCleared>(dec->batch.events[1]));
  EXPECT_EQ(dec->skipped_events, 1u);
}

TEST(EventsTest, DecoderSkipsMistypedEventButKeepsBatch) {
  std::string p;
  msgpack::Writer w(p);
  w.array_head(3);
  w.float64(1.0);
  w.array_head(2);
  w.array_head(3);
  w.str("BlockRemoved");
  w.str("not-a-list");
  w.str("GPU");
  w.array_head(3);
  w.str("BlockRemoved");
  w.array_head(1);
  w.uint(9);
  w.str("CPU");
  w.uint(1);
  auto dec = decode_batch(p);
  ASSERT_TRUE(dec.has_value()) << dec.error().message;
  ASSERT_EQ(dec->batch.events.size(), 1u);
  EXPECT_EQ(std::get<BlockRemoved>(dec->batch.events[0]).medium, "CPU");
  EXPECT_EQ(dec->skipped_events, 1u);
  EXPECT_EQ(dec->batch.data_parallel_rank, 1);
}

TEST(EventsTest, DecoderAcceptsMapEnvelope) {
  std::string p;
  msgpack::Writer w(p);
  w.map_head(3);
  w.str("events");
  w.array_head(0);
  w.str("ts");
  w.uint(5);
  w.str("data_parallel_rank");
  w.uint(2);
  auto dec = decode_batch(p);
  ASSERT_TRUE(dec.has_value()) << dec.error().message;
  EXPECT_DOUBLE_EQ(dec->batch.ts, 5.0);
  EXPECT_EQ(dec->batch.data_parallel_rank, 2);
}

TEST(EventsTest, DecoderRejectsMalformedEnvelopes) {
  EXPECT_FALSE(decode_batch("").has_value());
  EXPECT_FALSE(decode_batch(unhex("91cb41d954fc40200000")).has_value());        // one element
  EXPECT_FALSE(decode_batch(unhex("92a17890")).has_value());                    // ts is a string
  EXPECT_FALSE(decode_batch(unhex("92cb41d954fc40200000dc0010")).has_value());  // truncated events
  EXPECT_EQ(decode_batch(unhex("93cb41d954fc40200000")).error().code, ErrorCode::kProtocol);
}

}  // namespace
}  // namespace llmd::kvevents
