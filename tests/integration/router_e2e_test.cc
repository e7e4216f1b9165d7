// End-to-end tests of `llmd router` in front of real `llmd sim` replicas (separate processes): routing
// behaviour (prefix stickiness, spreading), the data layer (stale and missing metrics, discovery file
// rewrites), streaming and every error path.

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

#include "common/testing/eventually.h"
#include "common/testing/refused_port.h"
#include "http/testing/http_call.h"
#include "support/process.h"

namespace llmd {
namespace {

using http::testing::http_call;
using http::testing::HttpReply;
using testing::Process;

constexpr int kReplicas = 4;
constexpr const char* kModel = "sim-instant";

using llmd::testing::eventually;

// Whether the process has installed a handler for `sig` (SigCgt in /proc/<pid>/status).
bool catches_signal(pid_t pid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("SigCgt:")) return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1;
  }
  return false;
}

std::string completion(const std::string& prompt, int max_tokens = 4, bool stream = false,
                       const std::string& model = kModel) {
  return R"({"model":")" + model + R"(","prompt":")" + prompt + R"(","max_tokens":)" +
         std::to_string(max_tokens) + R"(,"ignore_eos":true,"stream":)" + (stream ? "true" : "false") + "}";
}

boost::json::value parse(const std::string& s) { return boost::json::parse(s); }

// What an OpenAI SSE stream says, independent of how its tokens were split into chunks.
struct StreamSummary {
  bool well_formed = true;      // every event is `data: <JSON object>` or the final `data: [DONE]`
  bool ends_with_done = false;  // the body ends with `data: [DONE]`
  std::set<std::string> ids, objects, models;
  std::string role;                         // the first delta's role
  std::string text;                         // choices[0].delta.content (or .text), concatenated
  std::vector<std::string> finish_reasons;  // the non-null ones, in order
  boost::json::value usage;                 // the usage object, if any chunk carried one
};

StreamSummary summarize_stream(const std::string& body) {
  StreamSummary s;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos || body.compare(pos, 6, "data: ") != 0 || s.ends_with_done) {
      s.well_formed = false;
      break;
    }
    const std::string payload = body.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    if (payload == "[DONE]") {
      s.ends_with_done = true;
      continue;
    }
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(payload, ec);
    if (ec || !v.is_object()) {
      s.well_formed = false;
      break;
    }
    const auto& o = v.get_object();
    if (const auto* id = o.if_contains("id"); id != nullptr && id->is_string()) {
      s.ids.emplace(id->get_string());
    }
    if (const auto* ob = o.if_contains("object"); ob != nullptr && ob->is_string()) {
      s.objects.emplace(ob->get_string());
    }
    if (const auto* m = o.if_contains("model"); m != nullptr && m->is_string()) {
      s.models.emplace(m->get_string());
    }
    if (const auto* u = o.if_contains("usage"); u != nullptr && !u->is_null()) s.usage = *u;
    const auto* choices = o.if_contains("choices");
    if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) continue;
    const auto& c = choices->get_array()[0].as_object();
    if (const auto* f = c.if_contains("finish_reason"); f != nullptr && f->is_string()) {
      s.finish_reasons.emplace_back(f->get_string());
    }
    const boost::json::value* piece = c.if_contains("text");
    if (const auto* delta = c.if_contains("delta"); delta != nullptr && delta->is_object()) {
      piece = delta->get_object().if_contains("content");
      if (const auto* role = delta->get_object().if_contains("role");
          role != nullptr && role->is_string() && s.role.empty()) {
        s.role = role->get_string();
      }
    }
    if (piece != nullptr && piece->is_string()) s.text += piece->get_string();
  }
  return s;
}

std::string endpoint_line(uint16_t port, const std::string& extra = {}) {
  return "  - {name: sim-" + std::to_string(port) + ", address: 127.0.0.1, port: " + std::to_string(port) +
         extra + "}\n";
}

// Sim replicas shared by every test of the suite: ports base .. base+kReplicas-1.
class RouterE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto sim = testing::spawn_llmd_listening(kReplicas, [](uint16_t port) {
      return std::vector<std::string>{"sim",
                                      "--host",
                                      "127.0.0.1",
                                      "--port",
                                      std::to_string(port),
                                      "--replicas",
                                      std::to_string(kReplicas),
                                      "--profile",
                                      "instant",
                                      "--seed",
                                      "1"};
    });
    base_port_ = sim.port;
    sim_ready_ = sim.ready;
    sim_ = new Process(std::move(sim.process));
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  // Each test fails if the shared replicas did not start (a fatal failure in SetUpTestSuite would
  // skip them, which CTest counts as passed).
  void SetUp() override { ASSERT_TRUE(sim_ready_) << sim_->output(); }
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
  void start_router(const std::vector<std::string>& extra, size_t ready) {
    // The data plane on the first port, the admin routes on the next.
    std::vector<std::string> args = {"--discovery-poll-interval", "50ms", "--seed", "3"};
    if (!discovery_.empty()) {
      args.push_back("--discovery-file");
      args.push_back(discovery_);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    auto router = testing::spawn_router(2, args);
    port_ = router.port;
    admin_port_ = static_cast<uint16_t>(router.port + 1);
    // A fresh object per start: Process's move assignment is not safe to use on a used object.
    router_ = std::make_unique<Process>(std::move(router.process));
    ASSERT_TRUE(router.ready) << router_->output();
    ASSERT_TRUE(eventually([&] { return ready_endpoints() == ready; })) << router_->output();
  }

  void stop_router() {
    if (!router_) return;
    // The router installs its SIGTERM handler only after it listens (and says it is ready); a SIGTERM
    // that came before would kill it instead of draining it.
    EXPECT_TRUE(eventually([&] { return !router_->running() || catches_signal(router_->pid(), SIGTERM); }))
        << router_->output();
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
  static inline bool sim_ready_ = false;
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

TEST_F(RouterE2E, StreamedReplyMatchesADirectCall) {
  write_discovery(endpoint_line(replica(0)) + endpoint_line(replica(1)));
  start_router({}, 2);
  const std::string body = R"({"model":"sim-instant","messages":[{"role":"user","content":"stream me"}],)"
                           R"("max_tokens":24,"ignore_eos":true,"stream":true,)"
                           R"("stream_options":{"include_usage":true}})";
  HttpReply via = http_call(port_, "POST", "/v1/chat/completions", body, {{"x-request-id", "fixed-id"}});
  ASSERT_EQ(via.status, 200) << via.body;
  EXPECT_EQ(via.header("content-type").find("text/event-stream"), 0u);
  const std::string served = served_by(via);
  ASSERT_FALSE(served.empty());
  const uint16_t port = static_cast<uint16_t>(std::stoi(served.substr(served.rfind(':') + 1)));
  HttpReply direct = http_call(port, "POST", "/v1/chat/completions", body, {{"x-request-id", "fixed-id"}});
  ASSERT_EQ(direct.status, 200) << direct.body;

  // Two generations agree in meaning, not in bytes: tokens that pile up while the simulator's HTTP
  // thread is busy go out as one delta, so chunk boundaries differ, and `created` is a wall-clock
  // second. (Byte-exact pass-through is GatewayTest.StreamPassesThroughUnchanged, with a fake upstream.)
  const StreamSummary v = summarize_stream(via.body);
  const StreamSummary d = summarize_stream(direct.body);
  ASSERT_TRUE(v.well_formed) << via.body;
  ASSERT_TRUE(d.well_formed) << direct.body;
  EXPECT_TRUE(v.ends_with_done) << via.body;
  EXPECT_TRUE(d.ends_with_done) << direct.body;
  EXPECT_EQ(v.ids, (std::set<std::string>{"chatcmpl-fixed-id"}));
  EXPECT_EQ(v.ids, d.ids);
  EXPECT_EQ(v.objects, (std::set<std::string>{"chat.completion.chunk"}));
  EXPECT_EQ(v.objects, d.objects);
  EXPECT_EQ(v.models, (std::set<std::string>{kModel}));
  EXPECT_EQ(v.models, d.models);
  EXPECT_EQ(v.role, "assistant");
  EXPECT_EQ(v.role, d.role);
  EXPECT_FALSE(v.text.empty());
  EXPECT_EQ(v.text, d.text);
  EXPECT_EQ(v.finish_reasons, (std::vector<std::string>{"length"}));
  EXPECT_EQ(v.finish_reasons, d.finish_reasons);
  ASSERT_TRUE(v.usage.is_object()) << via.body;
  ASSERT_TRUE(d.usage.is_object()) << direct.body;
  EXPECT_EQ(v.usage.at("completion_tokens").to_number<int64_t>(), 24);
  // The counts, not prompt_tokens_details: the second call may hit the first one's prefix cache.
  for (const char* count : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
    EXPECT_EQ(v.usage.at(count), d.usage.at(count)) << count;
  }
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
  auto started = testing::spawn_llmd_listening(1, [](uint16_t port) {
    return std::vector<std::string>{"sim",       "--host", "127.0.0.1", "--port", std::to_string(port),
                                    "--profile", "instant"};
  });
  Process& lone = started.process;
  const uint16_t lone_port = started.port;
  ASSERT_TRUE(started.ready) << lone.output();
  write_discovery(endpoint_line(lone_port) + endpoint_line(replica(0), ", metricsPath: /no-metrics") +
                  "  - {name: odd, address: 127.0.0.1, port: " + std::to_string(replica(1)) +
                  ", engine: sglang}\n");
  // A threshold far above any scrape delay on a loaded machine: only the replica killed below goes stale.
  start_router({"--metrics-staleness-threshold", "5s"}, 2);

  const std::string no_metrics_id = "default/sim-" + std::to_string(replica(0)) + "-rank-0";
  // Readiness came from the other two; wait until a scrape of the wrong path has come back too.
  boost::json::value doc;
  ASSERT_TRUE(eventually([&] {
    doc = parse(http_call(admin_port_, "GET", "/debug/endpoints").body);
    for (const auto& e : doc.at("endpoints").as_array()) {
      if (std::string(e.at("id").as_string()) == no_metrics_id) {
        return e.at("scrape_failures").to_number<uint64_t>() >= 1 && !e.at("last_error").as_string().empty();
      }
    }
    return false;
  })) << doc;
  ASSERT_EQ(doc.at("endpoints").as_array().size(), 3u) << doc;
  for (const auto& e : doc.at("endpoints").as_array()) {
    const std::string id(e.at("id").as_string());
    if (id == no_metrics_id) {
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
  ASSERT_TRUE(eventually([&] { return ready_endpoints() == 1; })) << router_->output();
  for (int i = 0; i < 10; ++i) {
    HttpReply r = http_call(port_, "POST", "/v1/completions", completion("gone" + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(served_by(r), addr(1));
  }
}

TEST_F(RouterE2E, ErrorPaths) {
  const testing::RefusedPort refused;  // held for the whole test: nobody else can listen there
  const uint16_t dead = refused.port();
  write_discovery(endpoint_line(replica(0)) + endpoint_line(dead, ", interval: \"0\""));
  // The dead endpoint stays in the set for this test: outlier detection (which would eject it after
  // enough connect failures, DeadEndpointIsEjectedByOutlierDetection) is off.
  start_router({"--outlier-consecutive-local-origin-failure", "0", "--outlier-consecutive-5xx", "0",
                "--outlier-consecutive-gateway-failure", "0"},
               2);

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
  EXPECT_NE(metrics.body.find("\nllmd_router_busy_poll_seconds_total "), std::string::npos);
}

// Passive outlier detection end to end: an endpoint that refuses connections is ejected after the
// configured run of connect failures, leaves the ready set, and shows so in /metrics and /debug.
TEST_F(RouterE2E, DeadEndpointIsEjectedByOutlierDetection) {
  const testing::RefusedPort refused;  // held for the whole test: nobody else can listen there
  write_discovery(endpoint_line(replica(0)) + endpoint_line(refused.port(), ", interval: \"0\""));
  start_router({"--outlier-consecutive-local-origin-failure", "2", "--outlier-max-ejection-percent", "50",
                "--config-text",
                "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\nplugins:\n- type: round-robin\n"},
               2);
  for (int i = 0; i < 10; ++i) {
    HttpReply r = http_call(port_, "POST", "/v1/completions", completion("ej" + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;  // connect failures fall back to the live replica
    EXPECT_EQ(served_by(r), addr(0));
  }
  HttpReply metrics = http_call(admin_port_, "GET", "/metrics");
  EXPECT_NE(
      metrics.body.find("llmd_router_outlier_ejections_total{reason=\"consecutive_local_origin_failure\"} 1"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("llm_d_epp_ready_endpoints{name=\"llmd\"} 1"), std::string::npos);
  const auto debug = parse(http_call(admin_port_, "GET", "/debug/endpoints").body);
  int ejected = 0;
  for (const auto& e : debug.at("endpoints").as_array()) ejected += e.at("ejected").as_bool() ? 1 : 0;
  EXPECT_EQ(ejected, 1);
}

TEST_F(RouterE2E, UnknownModelIs404AndOnlyDeadEndpointsAre502) {
  const testing::RefusedPort refused;  // held for the whole test: nobody else can listen there
  const uint16_t dead = refused.port();
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
  const testing::RefusedPort dead;
  write_discovery(endpoint_line(dead.port()));  // scraped and dead: never ready
  start_router({}, 0);
  HttpReply none = http_call(port_, "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(none.status, 503);
  EXPECT_EQ(none.header("x-llm-d-request-dropped-reason"), "rejected-no-endpoints");
  EXPECT_EQ(http_call(admin_port_, "GET", "/ready").status, 503);
  stop_router();

  write_discovery(endpoint_line(replica(0), ", labels: {tier: silver}"));
  start_router({"--config-text",
                "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\nplugins:\n"
                "- type: by-label\n  parameters: {label: tier, validValues: [gold]}\n- type: queue-scorer\n"},
               1);
  HttpReply shed = http_call(port_, "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(shed.status, 429);
  EXPECT_EQ(shed.header("x-llm-d-request-dropped-reason"), "rejected-saturated");
}

TEST_F(RouterE2E, SlowUpstreamIs504AndDisconnectCancelsUpstream) {
  auto started = testing::spawn_llmd_listening(1, [](uint16_t port) {
    return std::vector<std::string>{
        "sim",       "--host",         "127.0.0.1", "--port", std::to_string(port),
        "--profile", "llama3-8b-h100", "--model",   kModel};
  });
  const uint16_t slow_port = started.port;
  ASSERT_TRUE(started.ready) << started.process.output();
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
      http::testing::http_call_and_hang_up(port_, "/v1/completions", completion("bye", 6000, true), {}, 64);
  EXPECT_EQ(partial.status, 200) << partial.error;
  // The generation would run for a minute (6000 steps of ~7 ms or more); the abort reaches the replica
  // as soon as the client leaves.
  ASSERT_TRUE(eventually([&] { return running() == 0.0; }, std::chrono::seconds(20)));
}

}  // namespace
}  // namespace llmd
