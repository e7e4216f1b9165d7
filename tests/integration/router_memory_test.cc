// Memory under abandoned requests: rounds of requests that clients give up on while a hanging model
// server holds them, through a real `llmd router` process. The router's RSS must level off: a leak,
// or a cache that grows with every round, shows as growth between round 5 and round 10.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/eventually.h"
#include "http/testing/fake_upstream.h"
#include "support/process.h"
#include "support/raw_socket.h"

namespace llmd {
namespace {

using http::testing::FakeUpstream;
using testing::RawSocket;

using llmd::testing::eventually;

// VmRSS of `pid` in KiB, or -1.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

class RouterMemory : public ::testing::TestWithParam<int> {};

TEST_P(RouterMemory, RssLevelsOffOverRoundsOfAbandonedRequests) {
  const int in_flight = GetParam();
  // LLMD_MEMORY_ROUNDS runs more rounds, to see the longer curve (docs/benchmarks.md).
  const char* env = std::getenv("LLMD_MEMORY_ROUNDS");
  const int kRounds = env != nullptr ? std::max(10, std::atoi(env)) : 10;
  FakeUpstream hung("hung", 2);
  hung.set_metrics(http::testing::vllm_metrics_page(0, 0, 0));
  hung.set_inference_delay(std::chrono::minutes(10));  // answers /metrics, never inference
  ASSERT_TRUE(hung.start());
  auto router = testing::spawn_router(
      2, {"--endpoint", "127.0.0.1:" + std::to_string(hung.port()), "--outlier-consecutive-5xx", "0",
          "--outlier-consecutive-gateway-failure", "0", "--outlier-consecutive-local-origin-failure", "0"});
  ASSERT_TRUE(router.ready) << router.process.output();
  ASSERT_TRUE(eventually([&] {
    RawSocket s(static_cast<uint16_t>(router.port + 1));
    return s.send("GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") &&
           s.read_to_close().rfind("HTTP/1.1 200", 0) == 0;
  }));

  const std::string body = R"({"model":"m","prompt":"abandon me","max_tokens":8})";
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<long> rss;
  for (int round = 1; round <= kRounds; ++round) {
    const uint64_t sent_before = hung.requests();
    const uint64_t cancelled_before = hung.cancelled();
    {
      std::vector<std::unique_ptr<RawSocket>> clients;
      clients.reserve(static_cast<size_t>(in_flight));
      for (int i = 0; i < in_flight; ++i) {
        clients.push_back(std::make_unique<RawSocket>(router.port));
        ASSERT_TRUE(clients.back()->connected());
        ASSERT_TRUE(clients.back()->send(request));
      }
      // Every request is in flight at the model server...
      ASSERT_TRUE(eventually([&] {
        return hung.requests() - sent_before == static_cast<uint64_t>(in_flight);
      })) << "round "
          << round << ": " << hung.requests() - sent_before << " arrived";
      for (auto& c : clients) c->abort();  // ... when every client gives up
    }
    // The router cancels each upstream exchange in turn.
    ASSERT_TRUE(eventually([&] {
      return hung.cancelled() - cancelled_before == static_cast<uint64_t>(in_flight);
    })) << "round "
        << round << ": " << hung.cancelled() - cancelled_before << " cancelled";
    // The router gives free memory back to the kernel once a second; read the RSS after that.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    rss.push_back(rss_kib(router.process.pid()));
    ASSERT_GT(rss.back(), 0);
  }
  std::string curve;
  for (long r : rss) curve += std::to_string(r / 1024) + " ";
  std::cout << "router RSS (MiB) by round at " << in_flight << " abandoned in flight: " << curve << "\n";
  EXPECT_LE(rss[9], rss[4] + rss[4] / 10) << "RSS grew more than 10% from round 5 to round 10: " << curve;
}

INSTANTIATE_TEST_SUITE_P(InFlight, RouterMemory, ::testing::Values(1000, 2000));

}  // namespace
}  // namespace llmd
