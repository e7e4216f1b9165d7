#include "sched/snapshot_slot.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace llmd::sched {
namespace {

struct Pair {
  int64_t a;
  int64_t b;  // always == a
};

TEST(SnapshotSlotTest, LoadsWhatWasStored) {
  SnapshotSlot<const Pair> slot(std::make_shared<const Pair>(Pair{1, 1}));
  EXPECT_EQ(slot.load()->a, 1);
  auto held = slot.load();
  slot.store(std::make_shared<const Pair>(Pair{2, 2}));
  slot.store(std::make_shared<const Pair>(Pair{3, 3}));
  EXPECT_EQ(slot.load()->a, 3);
  EXPECT_EQ(held->a, 1);  // a reader's copy outlives later stores
  SnapshotSlot<int> empty;
  EXPECT_EQ(empty.load(), nullptr);
}

TEST(SnapshotSlotTest, ReadersSeeWholeSnapshotsInOrder) {
  SnapshotSlot<const Pair> slot(std::make_shared<const Pair>(Pair{0, 0}));
  constexpr int64_t kStores = 20000;
  std::atomic<bool> bad{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (last < kStores) {
        auto p = slot.load();
        if (p->a != p->b || p->a < last) bad = true;
        last = p->a;
      }
    });
  }
  for (int64_t i = 1; i <= kStores; ++i) slot.store(std::make_shared<const Pair>(Pair{i, i}));
  for (auto& t : readers) t.join();
  EXPECT_FALSE(bad.load());
  EXPECT_EQ(slot.load()->a, kStores);
}

}  // namespace
}  // namespace llmd::sched
