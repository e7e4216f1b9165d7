#include "http/tick_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace llmd::http {

struct TickLoop::State {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
};

TickLoop::TickLoop(std::chrono::microseconds tick)
    : tick_(std::max(tick, std::chrono::microseconds(0))), state_(std::make_unique<State>()) {}

TickLoop::~TickLoop() { stop(); }

asio::any_io_executor TickLoop::executor() { return state_->ioc.get_executor(); }

void TickLoop::start() {
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void TickLoop::stop() {
  stopping_ = true;
  state_->ioc.stop();  // wakes a blocking loop; a ticking one sees stopping_ within a tick
  if (thread_.joinable()) thread_.join();
}

void TickLoop::run() {
  asio::io_context& ioc = state_->ioc;
  if (tick_.count() == 0) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  while (!stopping_.load(std::memory_order_acquire)) {
    // Block until something is due, so that an idle loop takes no wake-ups at all...
    if (ioc.run_one() == 0 || ioc.stopped()) break;
    busy_passes_.fetch_add(1, std::memory_order_relaxed);
    // ...then let whatever else comes within this tick gather, and run it all in one pass. The
    // grid is absolute, so a pass that runs long does not push the later ones back.
    const auto now = Clock::now();
    std::this_thread::sleep_until(Clock::time_point((now.time_since_epoch() / tick_ + 1) * tick_));
    if (stopping_.load(std::memory_order_acquire)) break;
    if (ioc.poll() > 0) {
      busy_passes_.fetch_add(1, std::memory_order_relaxed);
    } else {
      idle_passes_.fetch_add(1, std::memory_order_relaxed);
    }
    if (ioc.stopped()) break;
  }
}

}  // namespace llmd::http
