#pragma once
// A shared_ptr that request threads read without locks while a writer replaces it: how the scheduler
// publishes immutable snapshots (endpoints, per-endpoint plugin state, prefix-index tables).
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 implements load() as lock bit, read the raw
// pointer, take a reference, then *relaxed* unlock, so the read is not ordered before the next writer's
// store. ThreadSanitizer reports it, and on weakly ordered CPUs it is a real hazard.
//
// Scheme (two slots, "left-right"): a reader pins the current slot by incrementing its counter, checks
// that the slot is still current, copies the shared_ptr and unpins; if a writer swapped slots in between,
// it unpins and retries. A writer fills the spare slot once no reader has it pinned (a pin lasts one
// shared_ptr copy), then publishes it. Readers never block; writers must be serialized by the caller.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

namespace llmd::sched {

template <class T>
class SnapshotSlot {
 public:
  explicit SnapshotSlot(std::shared_ptr<T> initial = nullptr) {
    slots_[0].value = std::move(initial);
    current_.store(&slots_[0], std::memory_order_seq_cst);
  }
  SnapshotSlot(const SnapshotSlot&) = delete;
  SnapshotSlot& operator=(const SnapshotSlot&) = delete;

  std::shared_ptr<T> load() const {
    for (;;) {
      Slot* s = current_.load(std::memory_order_seq_cst);
      s->readers.fetch_add(1, std::memory_order_seq_cst);
      if (current_.load(std::memory_order_seq_cst) == s) {
        std::shared_ptr<T> copy = s->value;
        s->readers.fetch_sub(1, std::memory_order_release);
        return copy;
      }
      s->readers.fetch_sub(1, std::memory_order_release);
    }
  }

  // Writers must be serialized by the caller (a mutex, or a single writer thread).
  void store(std::shared_ptr<T> value) {
    Slot* cur = current_.load(std::memory_order_seq_cst);
    Slot* spare = cur == &slots_[0] ? &slots_[1] : &slots_[0];
    // A reader that pinned the spare slot while it was current may still be copying from it.
    while (spare->readers.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    spare->value = std::move(value);
    current_.store(spare, std::memory_order_seq_cst);
  }

 private:
  struct Slot {
    std::shared_ptr<T> value;
    mutable std::atomic<int64_t> readers{0};
  };
  Slot slots_[2];
  std::atomic<Slot*> current_{nullptr};
};

}  // namespace llmd::sched
