// End-to-end tests of `llmd router` in front of real `llmd sim` replicas (separate processes): routing
// behaviour (prefix stickiness, spreading), the data layer (stale and missing metrics, discovery file
// rewrites), byte-exact streaming and every error path.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <signal.h>

#include <gtest/gtest.h>

#include "router/testing/http_call.h"
#include "support/process.h"

namespace llmd {
namespace {

using router::testing::http_call;
using router::testing::HttpReply;
using testing::Process;

constexpr int kReplicas = 4;
constexpr const char* kModel = "sim-instant";

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

std::string completion(const std::string& prompt, int max_tokens = 4, bool stream = false,
                       const std::string& model = kModel) {
  return R"({"model":")" + model + R"(","prompt":")" + prompt + R"(","max_tokens":)" +
         std::to_string(max_tokens) + R"(,"ignore_eos":true,"stream":)" + (stream ? "true" : "false") + "}";
}

boost::json::value parse(const std::string& s) { return boost::json::parse(s); }

std::string endpoint_line(uint16_t port, const std::string& extra = {}) {
  return "  - {name: sim-" + std::to_string(port) + ", address: 127.0.0.1, port: " + std::to_string(port) +
         extra + "}\n";
}

// Sim replicas shared by every test of the suite: ports base .. base+kReplicas-1.
class RouterE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_port_ = testing::free_port_range(kReplicas);
    sim_ = new Process(
        testing::spawn_llmd({"sim", "--host", "127.0.0.1", "--port", std::to_string(base_port_), "--replicas",
                             std::to_string(kReplicas), "--profile", "instant", "--seed", "1"}));
    for (int i = 0; i < kReplicas; ++i) {
      ASSERT_TRUE(testing::wait_for_port(static_cast<uint16_t>(base_port_ + i))) << sim_->output();
    }
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  void TearDown() override {
    stop_router();
    if (!discovery_.empty()) std::filesystem::remove(discovery_);
  }

  static uint16_t replica(int i) { return static_cast<uint16_t>(base_port_ + i); }

  void write_discovery(const std::string& body) {
    if (discovery_.empty()) {
      discovery_ = (std::filesystem::temp_directory_path() /
                    ("llmd_router_e2e_" + std::to_string(::getpid()) + "_" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml"))
                       .string();
    }
    const std::string tmp = discovery_ + ".tmp";
    std::ofstream(tmp) << "endpoints:\n" << body;
    std::filesystem::rename(tmp, discovery_);
  }

  // Starts the router on the discovery file plus `extra` flags; waits until `ready` endpoints are ready.
  void start_router(std::vector<std::string> extra, size_t ready) {
    port_ = testing::free_port();
    admin_port_ = testing::free_port();
    std::vector<std::string> args = {"router",
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(port_),
                                     "--admin-host",
                                     "127.0.0.1",
                                     "--admin-port",
                                     std::to_string(admin_port_),
                                     "--threads",
                                     "2",
                                     "--discovery-poll-interval",
                                     "50ms",
                                     "--seed",
                                     "3"};
    if (!discovery_.empty()) {
      args.push_back("--discovery-file");
      args.push_back(discovery_);
    }
    for (auto& e : extra) args.push_back(std::move(e));
    // A fresh object per start: Process's move assignment is not safe to use on a used object.
    router_ = std::make_unique<Process>(testing::spawn_llmd(args));
    ASSERT_TRUE(testing::wait_for_port(port_)) << router_->output();
    ASSERT_TRUE(testing::wait_for_port(admin_port_)) << router_->output();
    ASSERT_TRUE(eventually([&] { return ready_endpoints() == ready; })) << router_->output();
  }

  void stop_router() {
    if (!router_) return;
    router_->signal(SIGTERM);
    EXPECT_EQ(router_->wait(), 0) << router_->output();  // a clean drain on SIGTERM
    router_.reset();
  }

  size_t ready_endpoints() {
    HttpReply r = http_call(admin_port_, "GET", "/debug/endpoints");
    if (r.status != 200) return SIZE_MAX;
    return parse(r.body).at("ready_endpoints").to_number<size_t>();
  }

  std::string served_by(const HttpReply& r) { return r.header("x-gateway-destination-endpoint-served"); }
  static std::string addr(int i) { return "127.0.0.1:" + std::to_string(replica(i)); }

  static inline int base_port_ = 0;
  static inline Process* sim_ = nullptr;
  std::unique_ptr<Process> router_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  std::string discovery_;
};

TEST_F(RouterE2E, SamePrefixSticksToOneReplica) {
  std::string body;
  for (int i = 0; i < kReplicas; ++i) body += endpoint_line(replica(i));
  write_discovery(body);
  start_router({}, kReplicas);
  const std::string shared(6000, 's');  // ~1500 pseudo-tokens: many full prefix blocks
  std::set<std::string> servers;
  for (int i = 0; i < 12; ++i) {
    HttpReply r =
        http_call(port_, "POST", "/v1/completions", completion(shared + " question " + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;
    servers.insert(served_by(r));
  }
  EXPECT_EQ(servers.size(), 1u);
}

TEST_F(RouterE2E, UnrelatedLoadSpreads) {
  std::string body;
  for (int i = 0; i < kReplicas; ++i) body += endpoint_line(replica(i));
  write_discovery(body);
  start_router({}, kReplicas);
  std::map<std::string, int> counts;
  for (int i = 0; i < 40; ++i) {
    // Distinct from the first byte on, so no two requests share a prefix block.
    const std::string prompt = std::to_string(i * 7919) + std::string(400, static_cast<char>('a' + i % 26));
    HttpReply r = http_call(port_, "POST", "/v1/completions", completion(prompt));
    ASSERT_EQ(r.status, 200) << r.body;
    ++counts[served_by(r)];
  }
  EXPECT_GE(counts.size(), 3u);
  for (const auto& [server, n] : counts) EXPECT_LT(n, 30) << server;
}

TEST_F(RouterE2E, StreamedBytesMatchADirectCall) {
  write_discovery(endpoint_line(replica(0)) + endpoint_line(replica(1)));
  start_router({}, 2);
  const std::string body = R"({"model":"sim-instant","messages":[{"role":"user","content":"stream me"}],)"
                           R"("max_tokens":24,"ignore_eos":true,"stream":true})";
  // The reply embeds the request id and a `created` second; fix the id and retry if a second ticks over.
  bool identical = false;
  for (int attempt = 0; attempt < 3 && !identical; ++attempt) {
    HttpReply via = http_call(port_, "POST", "/v1/chat/completions", body, {{"x-request-id", "fixed-id"}});
    ASSERT_EQ(via.status, 200) << via.body;
    EXPECT_EQ(via.header("content-type").find("text/event-stream"), 0u);
    const std::string served = served_by(via);
    const uint16_t port = static_cast<uint16_t>(std::stoi(served.substr(served.rfind(':') + 1)));
    HttpReply direct = http_call(port, "POST", "/v1/chat/completions", body, {{"x-request-id", "fixed-id"}});
    ASSERT_EQ(direct.status, 200);
    ASSERT_NE(via.body.find("data: [DONE]"), std::string::npos) << via.body;
    identical = via.body == direct.body;
    if (!identical) {
      const std::regex created("\"created\":[0-9]+");
      ASSERT_EQ(std::regex_replace(via.body, created, ""), std::regex_replace(direct.body, created, ""));
    }
  }
  EXPECT_TRUE(identical);
}

TEST_F(RouterE2E, EndpointsAreRemovedAndAddedByRewritingTheFile) {
  write_discovery(endpoint_line(replica(0)) + endpoint_line(replica(1)));
  start_router({}, 2);
  auto servers_of = [&](int n) {
    std::set<std::string> s;
    for (int i = 0; i < n; ++i) {
      HttpReply r = http_call(port_, "POST", "/v1/completions", completion("rw" + std::to_string(i)));
      EXPECT_EQ(r.status, 200) << r.body;
      s.insert(served_by(r));
    }
    return s;
  };
  for (const auto& s : servers_of(10)) EXPECT_TRUE(s == addr(0) || s == addr(1)) << s;

  write_discovery(endpoint_line(replica(2)) + endpoint_line(replica(3)));
  ASSERT_TRUE(eventually([&] {
    HttpReply r = http_call(admin_port_, "GET", "/debug/endpoints");
    const auto v = parse(r.body);
    const auto& eps = v.at("endpoints").as_array();
    return v.at("ready_endpoints").to_number<uint64_t>() == 2 && eps.size() == 2 &&
           std::string(eps[0].at("id").as_string()) ==
               "default/sim-" + std::to_string(replica(2)) + "-rank-0";
  }));
  for (const auto& s : servers_of(10)) EXPECT_TRUE(s == addr(2) || s == addr(3)) << s;
}

TEST_F(RouterE2E, StaleAndMissingMetricsAreHandled) {
  // A replica of its own that this test kills; one whose /metrics path is wrong (never ready); one read
  // with SGLang names, so every core metric is missing (ready, values zero).
  const uint16_t lone_port = testing::free_port();
  Process lone = testing::spawn_llmd(
      {"sim", "--host", "127.0.0.1", "--port", std::to_string(lone_port), "--profile", "instant"});
  ASSERT_TRUE(testing::wait_for_port(lone_port)) << lone.output();
  write_discovery(endpoint_line(lone_port) + endpoint_line(replica(0), ", metricsPath: /no-metrics") +
                  "  - {name: odd, address: 127.0.0.1, port: " + std::to_string(replica(1)) +
                  ", engine: sglang}\n");
  start_router({"--metrics-staleness-threshold", "300ms"}, 2);

  HttpReply debug = http_call(admin_port_, "GET", "/debug/endpoints");
  const auto doc = parse(debug.body);
  for (const auto& e : doc.at("endpoints").as_array()) {
    const std::string id(e.at("id").as_string());
    if (id == "default/sim-" + std::to_string(replica(0)) + "-rank-0") {
      EXPECT_FALSE(e.at("ready").as_bool());
      EXPECT_EQ(std::string(e.at("last_error").as_string()), "metrics: HTTP 404");
    } else if (id == "default/odd-rank-0") {
      EXPECT_TRUE(e.at("ready").as_bool());
      EXPECT_EQ(std::string(e.at("missing_metrics").as_string()),
                "waiting_queue_size,running_requests_size,kv_cache_usage");
    } else {
      EXPECT_TRUE(e.at("ready").as_bool()) << id;
    }
  }

  lone.signal(SIGKILL);
  lone.wait();
  // Until staleness removes it, connects to the dead replica fail over; afterwards it gets nothing.
  for (int i = 0; i < 10; ++i) {
    HttpReply r = http_call(port_, "POST", "/v1/completions", completion("st" + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(served_by(r), addr(1));
  }
  ASSERT_TRUE(eventually([&] { return ready_endpoints() == 1; }));
}

TEST_F(RouterE2E, ErrorPaths) {
  const uint16_t dead = testing::free_port();
  write_discovery(endpoint_line(replica(0)) + endpoint_line(dead, ", interval: \"0\""));
  start_router({}, 2);

  HttpReply bad_json = http_call(port_, "POST", "/v1/completions", "{oops");
  EXPECT_EQ(bad_json.status, 400);
  HttpReply no_model = http_call(port_, "POST", "/v1/completions", R"({"prompt":"x"})");
  EXPECT_EQ(no_model.status, 400);
  EXPECT_EQ(std::string(parse(no_model.body).at("error").at("param").as_string()), "model");

  // The sim's model list arrives (the dead endpoint is not scraped, so its list stays unknown).
  ASSERT_TRUE(eventually([&] {
    HttpReply m = http_call(port_, "GET", "/v1/models");
    return m.status == 200 && m.body.find(kModel) != std::string::npos;
  }));
  // The unscraped dead endpoint has no model list, so the set is incomplete: unknown models pass on and
  // the replica answers 404 itself.
  HttpReply unknown = http_call(port_, "POST", "/v1/completions", completion("x", 4, false, "no-such-model"));
  EXPECT_EQ(unknown.status, 404);

  // Connect failures to the dead endpoint fall back to the live one.
  for (int i = 0; i < 10; ++i) {
    HttpReply r = http_call(port_, "POST", "/v1/completions", completion("fb" + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(served_by(r), addr(0));
  }
  HttpReply other = http_call(port_, "GET", "/health");
  EXPECT_EQ(other.status, 200);  // passthrough to a replica's own /health

  HttpReply metrics = http_call(admin_port_, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("llm_d_epp_request_error_total{model_name=\"\",target_model_name=\"\","
                              "fairness_id=\"default-flow\",priority=\"0\",error_code=\"BadRequest\"} 2"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("llm_d_epp_ready_endpoints{name=\"llmd\"} 2"), std::string::npos);
}

TEST_F(RouterE2E, UnknownModelIs404AndOnlyDeadEndpointsAre502) {
  const uint16_t dead = testing::free_port();
  write_discovery(endpoint_line(replica(0)));
  start_router({}, 1);
  ASSERT_TRUE(eventually([&] {
    HttpReply m = http_call(port_, "GET", "/v1/models");
    return m.status == 200 && m.body.find(kModel) != std::string::npos;
  }));
  HttpReply unknown = http_call(port_, "POST", "/v1/completions", completion("x", 4, false, "no-such-model"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(std::string(parse(unknown.body).at("error").at("type").as_string()), "NotFoundError");

  write_discovery(endpoint_line(dead, ", interval: \"0\""));
  ASSERT_TRUE(eventually([&] {
    HttpReply r = http_call(admin_port_, "GET", "/debug/endpoints");
    const auto v = parse(r.body);
    return v.at("endpoints").as_array().size() == 1 &&
           std::string(v.at("endpoints").as_array()[0].at("id").as_string()).find(std::to_string(dead)) !=
               std::string::npos;
  }));
  HttpReply gateway_error = http_call(port_, "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(gateway_error.status, 502);
  EXPECT_EQ(std::string(parse(gateway_error.body).at("error").at("type").as_string()), "BadGatewayError");
}

TEST_F(RouterE2E, NoReadyEndpointsIs503AndShedIs429) {
  write_discovery(endpoint_line(testing::free_port()));  // scraped and dead: never ready
  start_router({}, 0);
  HttpReply none = http_call(port_, "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(none.status, 503);
  EXPECT_EQ(none.header("x-llm-d-request-dropped-reason"), "rejected-no-endpoints");
  EXPECT_EQ(http_call(admin_port_, "GET", "/ready").status, 503);
  stop_router();

  write_discovery(endpoint_line(replica(0), ", labels: {tier: silver}"));
  start_router({"--config-text",
                "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n"
                "- type: by-label\n  parameters: {label: tier, validValues: [gold]}\n- type: queue-scorer\n"},
               1);
  HttpReply shed = http_call(port_, "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(shed.status, 429);
  EXPECT_EQ(shed.header("x-llm-d-request-dropped-reason"), "rejected-saturated");
}

TEST_F(RouterE2E, SlowUpstreamIs504AndDisconnectCancelsUpstream) {
  const uint16_t slow_port = testing::free_port();
  Process slow = testing::spawn_llmd({"sim", "--host", "127.0.0.1", "--port", std::to_string(slow_port),
                                      "--profile", "llama3-8b-h100", "--model", kModel});
  ASSERT_TRUE(testing::wait_for_port(slow_port)) << slow.output();
  write_discovery(endpoint_line(slow_port));
  start_router({"--upstream-timeout", "300ms"}, 1);

  // Thousands of tokens at several ms each cannot produce a whole non-streamed answer within 300 ms.
  HttpReply timeout = http_call(port_, "POST", "/v1/completions", completion("slow", 4000));
  EXPECT_EQ(timeout.status, 504) << timeout.body;

  stop_router();
  start_router({}, 1);
  auto running = [&] {
    HttpReply m = http_call(slow_port, "GET", "/metrics");
    std::smatch match;
    const std::regex re("vllm:num_requests_running\\{[^}]*\\} ([0-9.]+)");
    if (!std::regex_search(m.body, match, re)) return -1.0;
    return std::stod(match[1].str());
  };
  HttpReply partial =
      router::testing::http_call_and_hang_up(port_, "/v1/completions", completion("bye", 6000, true), {}, 64);
  EXPECT_EQ(partial.status, 200) << partial.error;
  // The generation would run for a minute (6000 steps of ~7 ms or more); the abort reaches the replica
  // as soon as the client leaves.
  ASSERT_TRUE(eventually([&] { return running() == 0.0; }, std::chrono::seconds(20)));
}

}  // namespace
}  // namespace llmd
