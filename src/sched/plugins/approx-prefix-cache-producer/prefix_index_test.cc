#include "sched/plugins/approx-prefix-cache-producer/prefix_index.h"

#include <thread>

#include <gtest/gtest.h>

namespace llmd::sched::plugins {
namespace {

TEST(EndpointBlockLruTest, EvictsLeastRecentlyUsed) {
  EndpointBlockLru lru(3);
  lru.touch(10);
  lru.touch(20);
  lru.touch(30);
  lru.touch(10);  // 20 is now the least recent
  lru.touch(40);
  const auto& t = *lru.table();
  EXPECT_TRUE(t.contains(10));
  EXPECT_FALSE(t.contains(20));
  EXPECT_TRUE(t.contains(30));
  EXPECT_TRUE(t.contains(40));
  EXPECT_EQ(lru.size(), 3u);
}

TEST(EndpointBlockLruTest, CollidingKeysSurviveDeletion) {
  // Every key has the same home slot, so eviction exercises the backward shift.
  EndpointBlockLru lru(4);
  const size_t slots = lru.table()->slots();
  std::vector<uint64_t> keys;
  for (uint64_t i = 1; i <= 12; ++i) keys.push_back(i * slots + 3);
  for (uint64_t k : keys) lru.touch(k);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(lru.table()->contains(keys[i]), i >= keys.size() - 4) << i;
  }
}

TEST(EndpointBlockLruTest, GrowsUpToCapacity) {
  EndpointBlockLru lru(5000);
  const size_t initial = lru.table()->slots();
  int grown = 0;
  for (uint64_t k = 1; k <= 5000; ++k) grown += lru.touch(k * 0x9E3779B97F4A7C15ull) ? 1 : 0;
  EXPECT_GT(grown, 0);
  EXPECT_GT(lru.table()->slots(), initial);
  EXPECT_GE(lru.table()->slots(), 10000u);
  for (uint64_t k = 1; k <= 5000; ++k) ASSERT_TRUE(lru.table()->contains(k * 0x9E3779B97F4A7C15ull)) << k;
  lru.touch(1);  // evicts the least recent, key 1·φ
  EXPECT_FALSE(lru.table()->contains(0x9E3779B97F4A7C15ull));
  EXPECT_EQ(lru.size(), 5000u);
}

TEST(EndpointBlockLruTest, ZeroKeyIsStorable) {
  EndpointBlockLru lru(2);
  lru.touch(0);
  EXPECT_TRUE(lru.table()->contains(0));
}

SnapshotPtr live(std::vector<uint64_t> uids) {
  auto s = std::make_shared<EndpointSnapshot>();
  for (uint64_t u : uids) {
    auto e = std::make_shared<Endpoint>();
    e->uid = u;
    e->id = "ns/p" + std::to_string(u) + "-rank-0";
    s->endpoints.push_back(e);
  }
  return s;
}

TEST(PrefixIndexTest, MatchesContiguousPrefixPerEndpoint) {
  ManualClock clock;
  PrefixIndex index(clock);
  auto h = std::make_shared<const std::vector<uint64_t>>(std::vector<uint64_t>{11, 12, 13});
  index.add(1, 100, h, live({1, 2}));
  auto view = index.view();
  const std::vector<uint64_t> q1 = {11, 12, 99, 13};
  const std::vector<uint64_t> q2 = {99, 11};
  EXPECT_EQ(PrefixIndex::match(*view, 1, *h), 3);
  EXPECT_EQ(PrefixIndex::match(*view, 1, q1), 2);
  EXPECT_EQ(PrefixIndex::match(*view, 1, q2), 0);
  EXPECT_EQ(PrefixIndex::match(*view, 2, *h), 0);
  EXPECT_EQ(index.stats().entries, 3u);
  EXPECT_EQ(index.stats().endpoints, 1u);
}

TEST(PrefixIndexTest, CapacityKeepsTheFirstBlocks) {
  ManualClock clock;
  PrefixIndex index(clock);
  auto h = std::make_shared<const std::vector<uint64_t>>(std::vector<uint64_t>{1, 2, 3, 4});
  index.add(7, 2, h, nullptr);
  EXPECT_EQ(PrefixIndex::match(*index.view(), 7, *h), 2);
  EXPECT_EQ(index.stats().entries, 2u);
}

TEST(PrefixIndexTest, PurgesDepartedEndpoints) {
  ManualClock clock;
  PrefixIndex index(clock, 64, std::chrono::minutes(2));
  auto h = std::make_shared<const std::vector<uint64_t>>(std::vector<uint64_t>{5, 6});
  index.add(1, 10, h, live({1, 2}));
  index.add(2, 10, h, live({1, 2}));
  EXPECT_EQ(index.stats().endpoints, 2u);
  clock.advance(std::chrono::minutes(3));
  index.add(2, 10, h, live({2}));  // endpoint 1 left the pool
  EXPECT_EQ(PrefixIndex::match(*index.view(), 1, *h), 0);
  EXPECT_EQ(PrefixIndex::match(*index.view(), 2, *h), 2);
  EXPECT_EQ(index.stats().endpoints, 1u);
  EXPECT_EQ(index.stats().entries, 2u);
}

TEST(PrefixIndexTest, ConcurrentWritersAndReaders) {
  ManualClock clock;
  PrefixIndex index(clock, 8192);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t base = static_cast<uint64_t>(t) * 1'000'000 + static_cast<uint64_t>(i) * 10 + 1;
        auto h =
            std::make_shared<const std::vector<uint64_t>>(std::vector<uint64_t>{base, base + 1, base + 2});
        index.add(static_cast<uint64_t>(t + 1), 100000, h, nullptr);
        (void)PrefixIndex::match(*index.view(), static_cast<uint64_t>(t + 1), *h);
      }
    });
  }
  for (auto& th : threads) th.join();
  index.flush();
  EXPECT_EQ(index.stats().dropped_updates, 0u);
  EXPECT_EQ(index.stats().entries, static_cast<uint64_t>(kThreads * kPerThread * 3));
  auto view = index.view();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const uint64_t base = static_cast<uint64_t>(t) * 1'000'000 + static_cast<uint64_t>(i) * 10 + 1;
      const std::vector<uint64_t> h = {base, base + 1, base + 2};
      ASSERT_EQ(PrefixIndex::match(*view, static_cast<uint64_t>(t + 1), h), 3) << t << " " << i;
    }
  }
}

}  // namespace
}  // namespace llmd::sched::plugins
