// Re-derives vLLM's sha256_cbor prefix-cache block hashes (vllm/v1/core/kv_cache_utils.py: each block is
// sha256 of the canonical CBOR of [parent digest, token tuple, extra keys]) from first principles: the CBOR
// input bytes are spelled out by hand, then the digests and their u64 truncations are checked.

#include "kvevents/block_hash.h"

#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "kvevents/cbor.h"

namespace llmd::kvevents {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<uint32_t> range(uint32_t first, uint32_t last) {
  std::vector<uint32_t> v(last - first + 1);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(BlockHashTest, NoneHashFollowsPythonHashSeed) {
  // sha256 over CBOR text "0" = 61 30.
  EXPECT_EQ(to_hex(sha256(unhex("6130"))),
            "4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e");
  EXPECT_EQ(to_hex(BlockHasher("0").none_hash()),
            "4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e");
  EXPECT_EQ(to_hex(BlockHasher("42").none_hash()),
            "9fa6eb003f14425eb9c8e6baacfbcaab26257357b829c7bfa74ffcc4f31c1780");
}

TEST(BlockHashTest, UnsetSeedDrawsNoneHashFromRng) {
  Rng a(1), b(1), c(2);
  BlockHasher ha(std::nullopt, a), hb(std::nullopt, b), hc(std::nullopt, c);
  EXPECT_FALSE(ha.seed().has_value());
  EXPECT_EQ(ha.none_hash(), hb.none_hash());
  EXPECT_NE(ha.none_hash(), hc.none_hash());
  EXPECT_NE(ha.none_hash(), BlockHasher("0").none_hash());
}

TEST(BlockHashTest, CborInputIsCanonical) {
  const BlockHasher h("0");
  const auto tokens = range(1, 16);
  // [bytes(32) parent, [1..16], null]
  std::string expected = unhex(
      "83"
      "5820");
  expected.append(reinterpret_cast<const char*>(h.none_hash().data()), 32);
  expected += unhex(
      "90"
      "0102030405060708090a0b0c0d0e0f10"
      "f6");
  EXPECT_EQ(block_hash_input(h.none_hash(), tokens, nullptr), expected);

  // Minimal-length integer heads: 23 → 17, 24 → 18 18, 256 → 19 0100, 65536 → 1a 00010000.
  const std::vector<uint32_t> wide = {23, 24, 255, 256, 65535, 65536};
  const std::string in = block_hash_input(h.none_hash(), wide, nullptr);
  EXPECT_EQ(in.substr(35), unhex("86"
                                 "17"
                                 "1818"
                                 "18ff"
                                 "190100"
                                 "19ffff"
                                 "1a00010000"
                                 "f6"));

  // Extra keys are a tuple of text strings (LoRA name, then cache salt).
  const std::vector<ExtraKey> extra = {ExtraKey::text("my-lora"), ExtraKey::text("salt123")};
  const std::string with_extra = block_hash_input(h.none_hash(), tokens, &extra);
  EXPECT_EQ(with_extra.substr(with_extra.size() - 17), unhex("82"
                                                             "676d792d6c6f7261"
                                                             "6773616c74313233"));
}

TEST(BlockHashTest, Seed0ChainMatchesVectors) {
  const BlockHasher h("0");
  const auto b0 = h.hash_block(nullptr, range(1, 16), nullptr);
  EXPECT_EQ(to_hex(b0), "202da172482d928bbc42ab25b0151e2b895f13f41002e27b2ceabcfae6d332ea");
  EXPECT_EQ(to_u64(b0), 3236607068019569386ull);
  const auto b1 = h.hash_block(&b0, range(17, 32), nullptr);
  EXPECT_EQ(to_u64(b1), 2758186210834249151ull);
}

TEST(BlockHashTest, ExtraKeysChangeTheHash) {
  const BlockHasher h("0");
  const std::vector<ExtraKey> extra = {ExtraKey::text("my-lora"), ExtraKey::text("salt123")};
  EXPECT_EQ(to_u64(h.hash_block(nullptr, range(1, 16), &extra)), 8588024399349874588ull);
}

TEST(BlockHashTest, Seed42ChainMatchesVectors) {
  const BlockHasher h("42");
  const auto b0 = h.hash_block(nullptr, range(1, 16), nullptr);
  EXPECT_EQ(to_u64(b0), 16300212363532267629ull);
  EXPECT_EQ(to_u64(h.hash_block(&b0, range(17, 32), nullptr)), 8671309795006503672ull);
}

TEST(BlockHashTest, EmptyTupleExtraMatchesPublicRustVector) {
  const BlockHasher h("0");
  const std::vector<ExtraKey> empty;
  const std::vector<uint32_t> tokens = {1, 2, 3};
  EXPECT_EQ(to_hex(h.hash_block(nullptr, tokens, &empty)),
            "8850135ef1d7b33ac0b6e79034c039d9eb7beea6fc15fa9d826602f68aa4fb2d");
}

TEST(BlockHashTest, HashBlocksChainsFullBlocksOnly) {
  const BlockHasher h("0");
  const auto tokens = range(1, 40);  // two full blocks of 16 and a partial one
  std::vector<Digest> out;
  h.hash_blocks(
      tokens, 16, [](size_t) -> const std::vector<ExtraKey>* { return nullptr; }, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(to_u64(out[0]), 3236607068019569386ull);
  EXPECT_EQ(to_u64(out[1]), 2758186210834249151ull);
  // Continuing an existing chain adds nothing new for the same tokens.
  h.hash_blocks(
      tokens, 16, [](size_t) -> const std::vector<ExtraKey>* { return nullptr; }, out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(BlockHashTest, InputIsAppendedAfterWhatTheBufferHolds) {
  const BlockHasher h("0");
  const std::vector<uint32_t> wide = {1, 300, 70000, 0xffffffffu};
  std::string out = "prefix";
  append_block_hash_input(out, h.none_hash(), wide, nullptr);
  EXPECT_EQ(out, "prefix" + block_hash_input(h.none_hash(), wide, nullptr));
  // The widest token head is 5 bytes: 1a ffffffff, then null.
  EXPECT_EQ(out.substr(out.size() - 6), unhex("1affffffff"
                                              "f6"));
}

TEST(BlockHashTest, CborHeadsUpToEightBytes) {
  std::string out;
  cbor::append_head(out, 0, 0xffffffffull);
  cbor::append_head(out, 0, 0x100000000ull);
  cbor::append_head(out, 4, 3);
  EXPECT_EQ(out, unhex("1affffffff"
                       "1b0000000100000000"
                       "83"));
}

TEST(BlockHashTest, EveryThreadHashesAlike) {
  // Each thread keeps its own digest context and input buffer.
  const BlockHasher h("0");
  const auto tokens = range(1, 16 * 64);
  auto chain = [&h, &tokens] {
    std::vector<Digest> out;
    h.hash_blocks(
        tokens, 16, [](size_t) -> const std::vector<ExtraKey>* { return nullptr; }, out);
    return out;
  };
  const std::vector<Digest> expected = chain();
  ASSERT_EQ(expected.size(), 64u);
  EXPECT_EQ(to_u64(expected[0]), 3236607068019569386ull);
  std::vector<std::vector<Digest>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) threads.emplace_back([&g, &chain] { g = chain(); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

TEST(BlockHashTest, U64IsLastEightBytesBigEndian) {
  Digest d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(to_u64(d), 0x18191a1b1c1d1e1full);
}

}  // namespace
}  // namespace llmd::kvevents
