#pragma once
// Per-endpoint mutable plugin state (in-flight counters, LRU stamps) keyed by Endpoint::uid. Lookups
// from request threads are lock-free: the map is copy-on-write, published through a SnapshotSlot, and
// copied only when an endpoint is first seen or purged; the entries themselves (T) hold atomics and
// are updated in place.

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "sched/endpoint.h"
#include "sched/snapshot_slot.h"

namespace llmd::sched {

template <class T>
class EndpointStateMap {
 public:
  using Map = std::unordered_map<uint64_t, std::shared_ptr<T>>;

  EndpointStateMap() : map_(std::make_shared<const Map>()) {}

  // Lock-free; one load serves many lookups in a cycle.
  std::shared_ptr<const Map> view() const { return map_.load(); }

  static T* find_in(const Map& m, uint64_t uid) {
    auto it = m.find(uid);
    return it == m.end() ? nullptr : it->second.get();
  }

  std::shared_ptr<T> find(uint64_t uid) const {
    auto m = view();
    auto it = m->find(uid);
    return it == m->end() ? nullptr : it->second;
  }

  // Lock-free when the entry exists. Creating one copies the map under `writer_mu_`, which happens once
  // per endpoint lifetime per plugin; readers never take it.
  std::shared_ptr<T> get_or_create(uint64_t uid) {
    if (auto hit = find(uid)) return hit;
    std::lock_guard lock(writer_mu_);
    auto cur = view();
    if (auto it = cur->find(uid); it != cur->end()) return it->second;
    auto next = std::make_shared<Map>(*cur);
    auto value = std::make_shared<T>();
    next->emplace(uid, value);
    map_.store(std::move(next));
    return value;
  }

  // Drops entries of endpoints no longer in `snapshot`.
  void retain_only(const EndpointSnapshot& snapshot) {
    std::unordered_set<uint64_t> live;
    for (const auto& e : snapshot.endpoints) live.insert(e->uid);
    std::lock_guard lock(writer_mu_);
    auto cur = view();
    auto next = std::make_shared<Map>();
    for (const auto& [uid, v] : *cur) {
      if (live.count(uid) != 0) next->emplace(uid, v);
    }
    if (next->size() != cur->size()) map_.store(std::move(next));
  }

  size_t size() const { return view()->size(); }

 private:
  std::mutex writer_mu_;
  SnapshotSlot<const Map> map_;
};

}  // namespace llmd::sched
