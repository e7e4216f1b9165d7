#pragma once
// Test support: waits for a condition that another thread or process brings about. The deadline only
// bounds a broken run (it is not a timing assertion); the poll period keeps the wait cheap. Header-only,
// like refused_port.h, for unit tests under src/ and integration tests under tests/.

#include <chrono>
#include <functional>
#include <thread>

namespace llmd::testing {

inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds deadline = std::chrono::seconds(30),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

}  // namespace llmd::testing
