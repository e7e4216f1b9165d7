#pragma once
// How long an idle worker keeps polling its sockets before it sleeps in epoll_wait: the rule KVM
// uses to halt-poll idle vCPUs, for an event loop. Sleeping costs a context switch and, on a VM,
// the wake-up of a halted vCPU (tens to hundreds of µs); polling costs a busy core. The window
// grows (doubling from 10 µs) while events come back within `max` of the loop going idle, so
// request/response traffic with short gaps is caught by polling; one gap longer than `max`
// resets it to 0, so an idle worker, or a slow stream with long gaps between chunks, sleeps at once.
// Pure bookkeeping over durations the caller measures, so tests need no clock.

#include <chrono>

namespace llmd::http {

class PollWindow {
 public:
  using Nanos = std::chrono::nanoseconds;
  static constexpr Nanos kGrowStart{10'000};

  // max 0: never poll.
  explicit PollWindow(Nanos max) : max_(max.count() > 0 ? max : Nanos(0)) {}

  // How long to poll, from when the loop went idle, before blocking.
  Nanos window() const { return window_; }
  Nanos max() const { return max_; }

  // The loop went idle and an event came `idle` later (by polling or after blocking).
  void on_event(Nanos idle) {
    if (idle <= window_) return;  // caught by polling: keep the window
    if (idle > max_) {
      window_ = Nanos(0);  // a long gap: polling would have been wasted
      return;
    }
    window_ = std::min(max_, std::max(kGrowStart, window_ * 2));  // a short gap polling missed
  }

 private:
  Nanos max_;
  Nanos window_{0};
};

}  // namespace llmd::http
