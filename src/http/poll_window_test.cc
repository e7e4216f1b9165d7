#include "http/poll_window.h"

#include <gtest/gtest.h>

namespace llmd::http {
namespace {

using std::chrono::microseconds;

TEST(PollWindow, StartsClosedAndGrowsByDoublingWhileGapsAreShort) {
  PollWindow w(microseconds(500));
  EXPECT_EQ(w.window(), microseconds(0));
  w.on_event(microseconds(300));  // a short gap it did not poll for
  EXPECT_EQ(w.window(), microseconds(10));
  w.on_event(microseconds(300));
  EXPECT_EQ(w.window(), microseconds(20));
  for (int i = 0; i < 4; ++i) w.on_event(microseconds(300));
  EXPECT_EQ(w.window(), microseconds(320));
  w.on_event(microseconds(300));  // caught by polling now: the window stays
  EXPECT_EQ(w.window(), microseconds(320));
}

TEST(PollWindow, NeverGrowsPastMax) {
  PollWindow w(microseconds(100));
  for (int i = 0; i < 20; ++i) w.on_event(microseconds(99));
  EXPECT_EQ(w.window(), microseconds(100));
  w.on_event(microseconds(100));  // exactly max: within the window, kept
  EXPECT_EQ(w.window(), microseconds(100));
}

TEST(PollWindow, LongGapsHalveItUntilItCloses) {
  PollWindow w(microseconds(500));
  for (int i = 0; i < 10; ++i) w.on_event(microseconds(400));
  ASSERT_EQ(w.window(), microseconds(500));
  w.on_event(microseconds(501));  // one late event: halved, not closed
  EXPECT_EQ(w.window(), microseconds(250));
  w.on_event(microseconds(200));  // caught: kept
  EXPECT_EQ(w.window(), microseconds(250));
  w.on_event(microseconds(300));  // short but missed: grows back
  EXPECT_EQ(w.window(), microseconds(500));
  // A slow stream, 20 ms between chunks: 500 → 250 → 125 → 62.5 → 31.25 → 15.625 → closed.
  for (int i = 0; i < 5; ++i) w.on_event(std::chrono::milliseconds(20));
  EXPECT_EQ(w.window(), std::chrono::nanoseconds(15'625));
  w.on_event(std::chrono::milliseconds(20));
  EXPECT_EQ(w.window(), microseconds(0));
  w.on_event(std::chrono::milliseconds(20));
  EXPECT_EQ(w.window(), microseconds(0));
}

TEST(PollWindow, ZeroOrNegativeMaxNeverPolls) {
  for (auto max : {microseconds(0), microseconds(-5)}) {
    PollWindow w(max);
    for (int i = 0; i < 5; ++i) w.on_event(microseconds(1));
    EXPECT_EQ(w.window(), microseconds(0));
    EXPECT_EQ(w.max(), microseconds(0));
  }
}

}  // namespace
}  // namespace llmd::http
