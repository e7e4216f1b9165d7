#pragma once
// The approximate prefix index: for each endpoint, an LRU set of the block hashes recently routed to
// it, with capacity = that endpoint's num_gpu_blocks (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/prefix).
//
// Concurrency: lookups run on every request thread without locks. Each endpoint's hashes live in an
// open-addressing table of atomic keys that readers probe directly. All writes go through a bounded
// lock-free queue and are applied by whichever request thread wins a try-flag (flat combining), so
// there is exactly one writer at a time and nobody ever waits. A reader racing a deletion may miss a
// key for that instant; the index is approximate by design, so that is a miss, not an error.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mpmc_queue.h"
#include "sched/endpoint.h"
#include "sched/snapshot_slot.h"

namespace llmd::sched::plugins {

// Reader-visible hash set of one endpoint. Key 0 marks an empty slot (a real hash of 0 is stored as 1).
// Each slot also carries the writer's LRU node index, so a writer's lookup touches one cache line.
class BlockKeyTable {
 public:
  explicit BlockKeyTable(size_t slots);  // power of two
  size_t slots() const { return mask_ + 1; }
  bool contains(uint64_t key) const;

 private:
  friend class EndpointBlockLru;
  struct Slot {
    std::atomic<uint64_t> key{0};
    uint32_t node = 0;  // writer-only
  };
  size_t mask_;
  std::unique_ptr<Slot[]> slots_;
};

// Writer side of one endpoint: exact LRU order over the keys of its BlockKeyTable.
class EndpointBlockLru {
 public:
  explicit EndpointBlockLru(size_t capacity);
  // Inserts or refreshes `key` as most recently used, evicting the least recent when full.
  // Returns true when the table was replaced (grown) and must be republished.
  bool touch(uint64_t key);
  const std::shared_ptr<const BlockKeyTable>& table() const { return table_const_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  struct Node {
    uint64_t key;
    uint32_t prev;
    uint32_t next;
  };
  size_t find_slot(uint64_t key) const;  // slots() when absent
  void place(uint64_t key, uint32_t node);
  void erase(uint64_t key);
  void unlink(uint32_t n);
  void push_front(uint32_t n);
  void grow();

  size_t capacity_;
  std::shared_ptr<BlockKeyTable> table_;
  std::shared_ptr<const BlockKeyTable> table_const_;
  std::vector<Node> nodes_;
  uint32_t head_ = kNil;  // most recent
  uint32_t tail_ = kNil;  // least recent
  size_t size_ = 0;
};

class PrefixIndex {
 public:
  using TableMap = std::unordered_map<uint64_t, std::shared_ptr<const BlockKeyTable>>;

  struct Stats {
    uint64_t entries = 0;          // block hashes held, all endpoints
    uint64_t endpoints = 0;        // endpoints with an LRU
    uint64_t dropped_updates = 0;  // updates lost because the queue was full
  };

  // `queue_capacity` bounds pending updates; `purge_interval` is how often LRUs of endpoints that left
  // the pool are dropped (llm-d: 2 minutes).
  explicit PrefixIndex(const Clock& clock, size_t queue_capacity = 4096,
                       Nanos purge_interval = std::chrono::minutes(2));

  // One atomic load; then match() any number of endpoints against it.
  std::shared_ptr<const TableMap> view() const { return tables_.load(); }
  // Length of the leading run of `hashes` cached on endpoint `uid`.
  static int64_t match(const TableMap& view, uint64_t uid, std::span<const uint64_t> hashes);

  // Records that `hashes` were routed to endpoint `uid` (LRU capacity `capacity`, fixed when the
  // endpoint's LRU is created). `live` lets the applier purge endpoints that left the pool.
  void add(uint64_t uid, size_t capacity, std::shared_ptr<const std::vector<uint64_t>> hashes,
           SnapshotPtr live);

  Stats stats() const;
  // Applies pending updates now, if no other thread is applying them (tests; shutdown).
  void flush() { drain(); }

 private:
  struct Update {
    uint64_t uid = 0;
    size_t capacity = 0;
    std::shared_ptr<const std::vector<uint64_t>> hashes;
    SnapshotPtr live;
  };
  void drain();
  void apply(Update& u, bool& republish);

  const Clock& clock_;
  const Nanos purge_interval_;
  MpmcQueue<Update> queue_;
  std::atomic<bool> applying_{false};
  SnapshotSlot<const TableMap> tables_;  // stored only by the thread holding `applying_`
  std::atomic<uint64_t> entries_{0};
  std::atomic<uint64_t> endpoints_{0};
  std::atomic<uint64_t> dropped_{0};
  // Owned by the thread holding `applying_`.
  std::unordered_map<uint64_t, EndpointBlockLru> lrus_;
  Nanos last_purge_{0};
};

}  // namespace llmd::sched::plugins
