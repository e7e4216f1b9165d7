#pragma once
// How long an idle worker keeps polling its sockets before it sleeps in epoll_wait: the rule KVM
// uses to halt-poll idle vCPUs, for an event loop. Sleeping costs a context switch and, on a VM,
// the wake-up of a halted vCPU (tens to hundreds of µs); polling costs a busy core. The window
// grows (doubling from 10 µs) while events come back within `max` of the loop going idle, so
// request/response traffic with short gaps is caught by polling. Each gap longer than `max` halves
// it (under 10 µs it closes), so one late event on a noisy machine does not undo it, while an idle
// worker, or one relaying slow streams with long gaps between chunks, soon sleeps at once: after
// traffic stops it polls less than 2 × `max` in all.
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
    if (idle > max_) {            // a long gap: polling for it was wasted
      window_ /= 2;
      if (window_ < kGrowStart) window_ = Nanos(0);
      return;
    }
    window_ = std::min(max_, std::max(kGrowStart, window_ * 2));  // a short gap polling missed
  }

 private:
  Nanos max_;
  Nanos window_{0};
};

}  // namespace llmd::http
