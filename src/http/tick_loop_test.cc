#include "http/tick_loop.h"

#include <array>
#include <atomic>
#include <future>
#include <memory>
#include <vector>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

namespace llmd::http {
namespace {

using namespace std::chrono_literals;
using Local = asio::local::stream_protocol;

TEST(TickLoop, RunsPostedWorkAndTimers) {
  for (auto tick : {0us, 2000us}) {
    TickLoop loop(tick);
    loop.start();
    std::promise<void> posted, fired;
    asio::post(loop.executor(), [&] { posted.set_value(); });
    asio::steady_timer timer(loop.executor(), 3ms);
    timer.async_wait([&](boost::system::error_code ec) {
      EXPECT_FALSE(ec);
      fired.set_value();
    });
    posted.get_future().get();
    fired.get_future().get();
    loop.stop();
    if (tick.count() > 0) {
      EXPECT_GE(loop.busy_passes(), 1u);
    }
  }
}

// The point of the loop: answers that arrive between two ticks cost one pass, not one wake-up each.
TEST(TickLoop, ReadsEverythingThatArrivedWithinATickInOnePass) {
  constexpr int kSockets = 20;
  TickLoop loop(1s);       // long, so the writes below all land within one tick
  asio::io_context local;  // owns the test's ends of the pairs; never run
  std::vector<std::unique_ptr<Local::socket>> ours, theirs;
  for (int i = 0; i < kSockets; ++i) {
    ours.push_back(std::make_unique<Local::socket>(loop.executor()));
    theirs.push_back(std::make_unique<Local::socket>(local));
    asio::local::connect_pair(*ours.back(), *theirs.back());
  }
  std::vector<std::array<char, 8>> buffers(kSockets);
  std::atomic<int> read{0};
  std::promise<void> all_read, reads_started;
  asio::post(loop.executor(), [&] {
    for (int i = 0; i < kSockets; ++i) {
      ours[i]->async_read_some(asio::buffer(buffers[i]), [&](boost::system::error_code ec, size_t n) {
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, 1u);
        if (++read == kSockets) all_read.set_value();
      });
    }
    reads_started.set_value();
  });
  loop.start();
  reads_started.get_future().get();
  const uint64_t before = loop.busy_passes();
  for (auto& s : theirs) asio::write(*s, asio::buffer("x", 1));
  all_read.get_future().get();
  // Two passes: the wake-up for the first answer and the tick's pass for the rest (four if a tick
  // boundary fell between the writes); a loop that woke per readable socket would take up to 20.
  EXPECT_LE(loop.busy_passes() - before, 4u);
  EXPECT_EQ(read.load(), kSockets);
  loop.stop();
}

TEST(TickLoop, StopReturnsWithWorkPendingAndDropsIt) {
  for (auto tick : {0us, 5000us}) {
    TickLoop loop(tick);
    bool ran = false;
    asio::steady_timer timer(loop.executor(), 1h);
    timer.async_wait([&](boost::system::error_code) { ran = true; });
    loop.start();
    loop.stop();
    loop.stop();  // idempotent
    EXPECT_FALSE(ran);
  }
}

}  // namespace
}  // namespace llmd::http
