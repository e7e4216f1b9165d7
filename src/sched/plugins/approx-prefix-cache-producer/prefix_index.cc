#include "sched/plugins/approx-prefix-cache-producer/prefix_index.h"

#include <algorithm>
#include <bit>
#include <unordered_set>

namespace llmd::sched::plugins {
namespace {

constexpr size_t kInitialSlots = 256;
// Bounds one endpoint's LRU whatever num_gpu_blocks a server reports (memory ~40 B per block).
constexpr size_t kMaxCapacity = size_t{1} << 21;

uint64_t normalize(uint64_t key) { return key == 0 ? 1 : key; }

}  // namespace

BlockKeyTable::BlockKeyTable(size_t slots) : mask_(slots - 1), slots_(new Slot[slots]) {}

bool BlockKeyTable::contains(uint64_t key) const {
  key = normalize(key);
  size_t i = key & mask_;
  for (size_t probes = 0; probes <= mask_; ++probes) {
    const uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
    if (k == key) return true;
    if (k == 0) return false;
    i = (i + 1) & mask_;
  }
  return false;
}

EndpointBlockLru::EndpointBlockLru(size_t capacity)
    : capacity_(std::clamp<size_t>(capacity, 1, kMaxCapacity)),
      table_(std::make_shared<BlockKeyTable>(std::min(kInitialSlots, std::bit_ceil(2 * capacity_)))),
      table_const_(table_) {}

size_t EndpointBlockLru::find_slot(uint64_t key) const {
  const size_t mask = table_->mask_;
  size_t i = key & mask;
  for (size_t probes = 0; probes <= mask; ++probes) {
    const uint64_t k = table_->slots_[i].key.load(std::memory_order_relaxed);
    if (k == key) return i;
    if (k == 0) break;
    i = (i + 1) & mask;
  }
  return table_->slots();
}

void EndpointBlockLru::place(uint64_t key, uint32_t node) {
  const size_t mask = table_->mask_;
  size_t i = key & mask;
  while (table_->slots_[i].key.load(std::memory_order_relaxed) != 0) i = (i + 1) & mask;
  table_->slots_[i].node = node;
  table_->slots_[i].key.store(key, std::memory_order_release);
}

void EndpointBlockLru::erase(uint64_t key) {
  size_t hole = find_slot(key);
  if (hole == table_->slots()) return;
  // Backward-shift deletion keeps probe chains intact without tombstones. Each moved key is written
  // to its new slot before its old slot is reused, so a concurrent reader can at worst miss it.
  const size_t mask = table_->mask_;
  size_t j = hole;
  for (;;) {
    j = (j + 1) & mask;
    const uint64_t k = table_->slots_[j].key.load(std::memory_order_relaxed);
    if (k == 0) break;
    const size_t home = k & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      table_->slots_[hole].node = table_->slots_[j].node;
      table_->slots_[hole].key.store(k, std::memory_order_release);
      hole = j;
    }
  }
  table_->slots_[hole].key.store(0, std::memory_order_release);
}

void EndpointBlockLru::unlink(uint32_t n) {
  Node& x = nodes_[n];
  if (x.prev != kNil)
    nodes_[x.prev].next = x.next;
  else
    head_ = x.next;
  if (x.next != kNil)
    nodes_[x.next].prev = x.prev;
  else
    tail_ = x.prev;
  x.prev = x.next = kNil;
}

void EndpointBlockLru::push_front(uint32_t n) {
  Node& x = nodes_[n];
  x.prev = kNil;
  x.next = head_;
  if (head_ != kNil) nodes_[head_].prev = n;
  head_ = n;
  if (tail_ == kNil) tail_ = n;
}

void EndpointBlockLru::grow() {
  table_ = std::make_shared<BlockKeyTable>(table_->slots() * 2);
  table_const_ = table_;
  for (uint32_t n = head_; n != kNil; n = nodes_[n].next) place(nodes_[n].key, n);
}

bool EndpointBlockLru::touch(uint64_t key) {
  key = normalize(key);
  if (const size_t s = find_slot(key); s != table_->slots()) {
    const uint32_t n = table_->slots_[s].node;
    if (n != head_) {
      unlink(n);
      push_front(n);
    }
    return false;
  }
  uint32_t n;
  if (size_ == capacity_) {
    n = tail_;
    erase(nodes_[n].key);
    unlink(n);
    --size_;
  } else {
    n = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(Node{0, kNil, kNil});
  }
  bool grown = false;
  if ((size_ + 1) * 2 > table_->slots()) {
    grow();
    grown = true;
  }
  nodes_[n].key = key;
  place(key, n);
  push_front(n);
  ++size_;
  return grown;
}

PrefixIndex::PrefixIndex(const Clock& clock, size_t queue_capacity, Nanos purge_interval)
    : clock_(clock),
      purge_interval_(purge_interval),
      queue_(queue_capacity),
      tables_(std::make_shared<const TableMap>()),
      last_purge_(clock.now()) {}

int64_t PrefixIndex::match(const TableMap& view, uint64_t uid, std::span<const uint64_t> hashes) {
  auto it = view.find(uid);
  if (it == view.end()) return 0;
  const BlockKeyTable& t = *it->second;
  int64_t n = 0;
  for (uint64_t h : hashes) {
    if (!t.contains(h)) break;
    ++n;
  }
  return n;
}

void PrefixIndex::add(uint64_t uid, size_t capacity, std::shared_ptr<const std::vector<uint64_t>> hashes,
                      SnapshotPtr live) {
  Update u{uid, capacity, std::move(hashes), std::move(live)};
  if (!queue_.try_push(u)) {
    drain();
    if (!queue_.try_push(u)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  drain();
}

void PrefixIndex::drain() {
  // A few rounds at most: an update pushed while another thread was applying is picked up here, or
  // at the latest by the next add().
  for (int round = 0; round < 4; ++round) {
    if (applying_.exchange(true, std::memory_order_seq_cst)) return;
    bool republish = false;
    for (size_t n = 0; n < queue_.capacity(); ++n) {
      auto u = queue_.try_pop();
      if (!u) break;
      apply(*u, republish);
    }
    if (republish) {
      auto map = std::make_shared<TableMap>();
      map->reserve(lrus_.size());
      for (const auto& [uid, lru] : lrus_) map->emplace(uid, lru.table());
      tables_.store(std::move(map));
    }
    applying_.store(false, std::memory_order_seq_cst);
    if (!queue_.maybe_nonempty()) return;
  }
}

void PrefixIndex::apply(Update& u, bool& republish) {
  const Nanos now = clock_.now();
  if (u.live != nullptr && now - last_purge_ >= purge_interval_) {
    last_purge_ = now;
    std::unordered_set<uint64_t> live;
    for (const auto& e : u.live->endpoints) live.insert(e->uid);
    for (auto it = lrus_.begin(); it != lrus_.end();) {
      if (live.count(it->first) == 0) {
        entries_.fetch_sub(it->second.size(), std::memory_order_relaxed);
        it = lrus_.erase(it);
        republish = true;
      } else {
        ++it;
      }
    }
    endpoints_.store(lrus_.size(), std::memory_order_relaxed);
  }
  if (u.hashes == nullptr || u.hashes->empty()) return;
  auto [it, inserted] = lrus_.try_emplace(u.uid, u.capacity);
  if (inserted) {
    republish = true;
    endpoints_.store(lrus_.size(), std::memory_order_relaxed);
  }
  EndpointBlockLru& lru = it->second;
  const size_t before = lru.size();
  // Last block first, so the request's first block ends up most recently used: with contiguous-prefix
  // matching, losing the first block would lose the whole prefix.
  for (auto h = u.hashes->rbegin(); h != u.hashes->rend(); ++h) {
    if (lru.touch(*h)) republish = true;
  }
  entries_.fetch_add(lru.size() - before, std::memory_order_relaxed);
}

PrefixIndex::Stats PrefixIndex::stats() const {
  return Stats{entries_.load(std::memory_order_relaxed), endpoints_.load(std::memory_order_relaxed),
               dropped_.load(std::memory_order_relaxed)};
}

}  // namespace llmd::sched::plugins
