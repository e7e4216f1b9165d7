#pragma once
// An event loop on its own thread for background polling (metrics scrapes). With a tick > 0 it
// wakes for the first thing due (a timer or I/O), runs it, then sleeps to the next multiple of the
// tick and runs everything else that became ready meanwhile in one pass (one non-blocking
// epoll_wait). A plain loop would wake for every arriving answer, because asio registers sockets
// edge-triggered, and each wake-up costs a context switch (tens of µs on a VM); an idle loop takes
// none. Timers and I/O on the loop complete up to one tick late. A tick of 0 runs an ordinary
// blocking loop.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "http/types.h"

namespace llmd::http {

class TickLoop {
 public:
  explicit TickLoop(std::chrono::microseconds tick);
  ~TickLoop();  // stop()
  TickLoop(const TickLoop&) = delete;
  TickLoop& operator=(const TickLoop&) = delete;

  asio::any_io_executor executor();
  // Starts the thread. Work may be queued on executor() before or after.
  void start();
  // Ends the thread (within one tick) and joins it. Handlers still queued are not run; they are
  // destroyed with the loop. Idempotent.
  void stop();

  std::chrono::microseconds tick() const { return tick_; }
  // Passes through the loop that ran at least one handler, and those that found nothing to do.
  uint64_t busy_passes() const { return busy_passes_.load(std::memory_order_relaxed); }
  uint64_t idle_passes() const { return idle_passes_.load(std::memory_order_relaxed); }

 private:
  void run();

  const std::chrono::microseconds tick_;
  struct State;
  std::unique_ptr<State> state_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> busy_passes_{0};
  std::atomic<uint64_t> idle_passes_{0};
};

}  // namespace llmd::http
