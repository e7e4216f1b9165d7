// GET /metrics over HTTP: what a server exposes parses back to the values it holds.

#include <map>
#include <span>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/metrics_endpoint.h"
#include "http/server.h"
#include "metrics/parser.h"
#include "metrics/registry.h"
#include "metrics/text_format.h"

namespace llmd::http {
namespace {

// The request coroutine is passed to co_spawn directly: a capturing coroutine lambda would be a
// temporary that dies before its coroutine runs.
Result<Response> get(uint16_t port, const std::string& target) {
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  Request req{Verb::get, target, 11};
  auto fut =
      boost::asio::co_spawn(ioc, client.request(Upstream{"127.0.0.1", port}, req), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

TEST(HttpMetricsEndpoint, ExpositionParsesBackToRegistryValues) {
  metrics::Registry registry;
  auto requests = registry.counter_family("llmd_test_requests_total", "Requests.", {"code"});
  ASSERT_TRUE(requests.has_value());
  (*requests)->with({"200"}).inc(41);
  (*requests)->with({"503"}).inc(2);
  auto depth = registry.gauge("llmd_test_queue_depth", "Queue depth.");
  ASSERT_TRUE(depth.has_value());
  (*depth)->set(7.25);
  auto latency = registry.histogram("llmd_test_latency_seconds", "Latency.", {0.1, 1.0});
  ASSERT_TRUE(latency.has_value());
  (*latency)->observe(0.05);
  (*latency)->observe(0.5);
  (*latency)->observe(3.0);

  Router router;
  mount_metrics(router, registry);
  ServerOptions options;
  options.threads = 1;
  Server server(options, std::move(router));
  ASSERT_TRUE(server.start().has_value());

  auto res = get(server.port(), "/metrics");
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->result(), Status::ok);
  EXPECT_EQ((*res)[Field::content_type], metrics::kContentType);

  metrics::Page page;
  ASSERT_TRUE(metrics::parse(res->body(), page).has_value());
  std::map<std::string, double> values;
  for (const auto& s : page.samples()) {
    std::string key(s.name);
    for (const auto& l : page.labels(s)) key += "|" + std::string(l.name) + "=" + std::string(l.value);
    values[key] = s.value;
  }
  EXPECT_EQ(values["llmd_test_requests_total|code=200"], 41);
  EXPECT_EQ(values["llmd_test_requests_total|code=503"], 2);
  EXPECT_EQ(values["llmd_test_queue_depth"], 7.25);
  EXPECT_EQ(values["llmd_test_latency_seconds_bucket|le=0.1"], 1);
  EXPECT_EQ(values["llmd_test_latency_seconds_bucket|le=1"], 2);
  EXPECT_EQ(values["llmd_test_latency_seconds_bucket|le=+Inf"], 3);
  EXPECT_EQ(values["llmd_test_latency_seconds_count"], 3);

  auto only =
      get(server.port(), "/metrics?name[]=llmd_test_queue_depth&name[]=llmd_test_latency_seconds_count");
  ASSERT_TRUE(only.has_value()) << only.error().message;
  EXPECT_EQ(only->body(),
            "# HELP llmd_test_queue_depth Queue depth.\n# TYPE llmd_test_queue_depth gauge\n"
            "llmd_test_queue_depth 7.25\n# HELP llmd_test_latency_seconds Latency.\n"
            "# TYPE llmd_test_latency_seconds histogram\nllmd_test_latency_seconds_count 3\n");
  EXPECT_DOUBLE_EQ(values["llmd_test_latency_seconds_sum"], 3.55);

  server.drain();
  server.wait();
}

// A service that renders its own page (a registry plus lines of its own) mounts it the same way and
// is handed the request's `name[]` values.
TEST(HttpMetricsEndpoint, ServesACallersOwnPageWithTheRequestedNames) {
  metrics::Registry registry;
  auto depth = registry.gauge("llmd_test_queue_depth", "Queue depth.");
  ASSERT_TRUE(depth.has_value());
  (*depth)->set(3);
  Router router;
  mount_metrics(
      router,
      [&registry](std::string& out, std::span<const std::string> names) {
        registry.expose_to(out, names);
        out += "# names:";
        for (const auto& n : names) out += " " + n;
        out += "\nllmd_test_extra 1\n";
      },
      "/custom");
  ServerOptions options;
  options.threads = 1;
  Server server(options, std::move(router));
  ASSERT_TRUE(server.start().has_value());

  auto all = get(server.port(), "/custom");
  ASSERT_TRUE(all.has_value()) << all.error().message;
  EXPECT_EQ(all->result(), Status::ok);
  EXPECT_EQ((*all)[Field::content_type], metrics::kContentType);
  EXPECT_EQ(all->body(),
            "# HELP llmd_test_queue_depth Queue depth.\n# TYPE llmd_test_queue_depth gauge\n"
            "llmd_test_queue_depth 3\n# names:\nllmd_test_extra 1\n");

  auto some = get(server.port(), "/custom?name%5B%5D=llmd_test_extra&name[]=other");
  ASSERT_TRUE(some.has_value()) << some.error().message;
  EXPECT_EQ(some->body(), "# names: llmd_test_extra other\nllmd_test_extra 1\n");

  server.drain();
  server.wait();
}

}  // namespace
}  // namespace llmd::http
