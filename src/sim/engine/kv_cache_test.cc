#include "sim/engine/kv_cache.h"

#include <gtest/gtest.h>

namespace llmd::sim {
namespace {

kvevents::Digest digest(uint8_t v) {
  kvevents::Digest d{};
  d[0] = v;
  return d;
}

TEST(BlockPoolTest, NullBlockIsReserved) {
  BlockPool pool(4);
  EXPECT_EQ(pool.usable_blocks(), 3u);
  EXPECT_EQ(pool.num_free(), 3u);
  std::vector<uint32_t> got;
  std::vector<kvevents::Digest> evicted;
  pool.allocate(3, got, evicted);
  EXPECT_EQ(got, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(pool.usage(), 1.0);
}

TEST(BlockPoolTest, FreedCachedBlocksAreEvictedInLruOrder) {
  BlockPool pool(5);
  std::vector<uint32_t> a, b;
  std::vector<kvevents::Digest> evicted;
  pool.allocate(2, a, evicted);
  pool.cache(a[0], digest(1));
  pool.cache(a[1], digest(2));
  pool.allocate(2, b, evicted);
  pool.cache(b[0], digest(3));
  pool.cache(b[1], digest(4));
  pool.release(std::vector<uint32_t>{a[1], a[0]});  // freed first: evicted first
  pool.release(std::vector<uint32_t>{b[1], b[0]});
  EXPECT_EQ(pool.lookup(digest(2)), a[1]);
  std::vector<uint32_t> c;
  pool.allocate(3, c, evicted);
  ASSERT_EQ(evicted.size(), 3u);
  EXPECT_EQ(evicted[0], digest(2));
  EXPECT_EQ(evicted[1], digest(1));
  EXPECT_EQ(evicted[2], digest(4));
  EXPECT_EQ(pool.lookup(digest(2)), -1);
  EXPECT_EQ(pool.lookup(digest(3)), b[0]);
}

TEST(BlockPoolTest, TouchProtectsAHitFromEviction) {
  BlockPool pool(3);
  std::vector<uint32_t> a;
  std::vector<kvevents::Digest> evicted;
  pool.allocate(2, a, evicted);
  pool.cache(a[0], digest(7));
  pool.release(a);
  EXPECT_EQ(pool.num_free(), 2u);
  pool.touch(a[0]);
  EXPECT_EQ(pool.num_free(), 1u);
  EXPECT_EQ(pool.ref_count(a[0]), 1u);
  std::vector<uint32_t> c;
  pool.allocate(1, c, evicted);
  EXPECT_EQ(c[0], a[1]);
  EXPECT_TRUE(evicted.empty());
  EXPECT_EQ(pool.lookup(digest(7)), a[0]);
}

TEST(BlockPoolTest, DuplicateHashesKeepBothBlocks) {
  BlockPool pool(4);
  std::vector<uint32_t> a;
  std::vector<kvevents::Digest> evicted;
  pool.allocate(2, a, evicted);
  pool.cache(a[0], digest(9));
  pool.cache(a[1], digest(9));
  pool.release(std::vector<uint32_t>{a[0], a[1]});
  std::vector<uint32_t> c;
  pool.allocate(2, c, evicted);  // the never-used block, then a[0]
  EXPECT_EQ(evicted.size(), 1u);
  EXPECT_EQ(pool.lookup(digest(9)), a[1]);
}

TEST(BlockPoolTest, ResetNeedsEveryBlockFree) {
  BlockPool pool(3);
  std::vector<uint32_t> a;
  std::vector<kvevents::Digest> evicted;
  pool.allocate(1, a, evicted);
  pool.cache(a[0], digest(5));
  EXPECT_FALSE(pool.reset());
  pool.release(a);
  EXPECT_TRUE(pool.reset());
  EXPECT_EQ(pool.lookup(digest(5)), -1);
}

}  // namespace
}  // namespace llmd::sim
