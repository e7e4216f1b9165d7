#pragma once
// Injected time. Components take a Clock& so tests and the virtual-time simulator stay deterministic.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace llmd {

using Nanos = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time since an arbitrary epoch.
  virtual Nanos now() const = 0;
  // Wall-clock time since the Unix epoch (for timestamps in metrics and events).
  virtual Nanos wall_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Nanos now() const override {
    return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
  }
  Nanos wall_now() const override {
    return std::chrono::duration_cast<Nanos>(std::chrono::system_clock::now().time_since_epoch());
  }
  static SystemClock& instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told to. Safe to read from several threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Nanos start = Nanos{0}, Nanos wall_offset = Nanos{1'700'000'000'000'000'000})
      : now_(start.count()), wall_offset_(wall_offset) {}
  Nanos now() const override { return Nanos{now_.load(std::memory_order_relaxed)}; }
  Nanos wall_now() const override { return now() + wall_offset_; }
  void advance(Nanos d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }
  void set(Nanos t) { now_.store(t.count(), std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
  Nanos wall_offset_;
};

inline double to_seconds(Nanos d) { return static_cast<double>(d.count()) / 1e9; }

}  // namespace llmd
