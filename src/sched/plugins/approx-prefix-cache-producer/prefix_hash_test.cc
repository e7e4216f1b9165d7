#include "sched/plugins/approx-prefix-cache-producer/prefix_hash.h"

#include <string>
#include <vector>

#include <xxhash.h>

#include <gtest/gtest.h>

namespace llmd::sched::plugins {
namespace {

std::string le_bytes(const std::vector<uint32_t>& tokens) {
  std::string out;
  for (uint32_t t : tokens) {
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>(t >> (8 * b)));
  }
  return out;
}

TEST(PrefixHashTest, MatchesTheChainedDefinition) {
  // Recomputed here from the definition with hand-built little-endian byte strings.
  const std::string tokens = le_bytes({1, 2, 0x01020304, 7, 9});
  const std::string seed_input = "modelsalt";
  const uint64_t seed = XXH64(seed_input.data(), seed_input.size(), 0);
  EXPECT_EQ(prefix_hash_seed("model", "salt"), seed);

  const unsigned char block0[] = {1, 0, 0, 0, 2, 0, 0, 0};
  const unsigned char block1[] = {4, 3, 2, 1, 7, 0, 0, 0};
  const unsigned char block2[] = {9, 0, 0, 0};  // the trailing partial block counts
  auto chain = [](uint64_t id, uint64_t prev) {
    unsigned char b[16];
    for (int i = 0; i < 8; ++i) {
      b[i] = static_cast<unsigned char>(id >> (8 * i));
      b[8 + i] = static_cast<unsigned char>(prev >> (8 * i));
    }
    return XXH64(b, 16, 0);
  };
  const uint64_t h0 = chain(XXH64(block0, 8, 0), seed);
  const uint64_t h1 = chain(XXH64(block1, 8, 0), h0);
  const uint64_t h2 = chain(XXH64(block2, 4, 0), h1);

  std::vector<uint64_t> got;
  chained_block_hashes(tokens, 2, 0, seed, got);
  EXPECT_EQ(got, (std::vector<uint64_t>{h0, h1, h2}));

  got.clear();
  chained_block_hashes(tokens, 2, 2, seed, got);  // max blocks
  EXPECT_EQ(got, (std::vector<uint64_t>{h0, h1}));
}

TEST(PrefixHashTest, TrailingBytesArePaddedWithZeros) {
  // "abcde" is the tokens 0x64636261, 0x00000065.
  std::vector<uint64_t> a, b;
  chained_block_hashes("abcde", 1, 0, 7, a);
  chained_block_hashes(std::string("abcde\0\0\0", 8), 1, 0, 7, b);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a, b);
  std::vector<uint64_t> c;
  chained_block_hashes(std::string("abcde\0\0\1", 8), 1, 0, 7, c);
  EXPECT_EQ(a[0], c[0]);
  EXPECT_NE(a[1], c[1]);
  std::vector<uint64_t> none;
  chained_block_hashes("", 4, 0, 7, none);
  EXPECT_TRUE(none.empty());
}

TEST(PrefixHashTest, SeedSeparatesModelsAndSalts) {
  const std::string tokens = le_bytes(std::vector<uint32_t>(256, 42));
  std::vector<uint64_t> a, b, c;
  chained_block_hashes(tokens, 64, 0, prefix_hash_seed("m", ""), a);
  chained_block_hashes(tokens, 64, 0, prefix_hash_seed("m", "tenant-1"), b);
  chained_block_hashes(tokens, 64, 0, prefix_hash_seed("m2", ""), c);
  ASSERT_EQ(a.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NE(a[i], b[i]);
    EXPECT_NE(a[i], c[i]);
  }
  // Identical blocks at different positions hash differently (the chain).
  EXPECT_NE(a[0], a[1]);
}

}  // namespace
}  // namespace llmd::sched::plugins
