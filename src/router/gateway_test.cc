#include "router/gateway.h"

#include <chrono>
#include <functional>
#include <regex>
#include <set>
#include <thread>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include "common/testing/eventually.h"
#include "common/testing/refused_port.h"
#include "epp/admin.h"
#include "http/testing/fake_upstream.h"
#include "http/testing/http_call.h"
#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"

namespace llmd::router {
namespace {

using datalayer::DataLayer;
using datalayer::EndpointTarget;
using epp::AdminContext;
using epp::EppMetrics;

using http::testing::FakeUpstream;
using http::testing::http_call;
using http::testing::HttpReply;

using llmd::testing::eventually;

EndpointTarget target(const std::string& name, uint16_t port, Nanos interval = std::chrono::milliseconds(10),
                      sched::Labels labels = {}) {
  EndpointTarget t;
  t.spec.id = "default/" + name + "-rank-0";
  t.spec.address = "127.0.0.1";
  t.spec.port = port;
  t.spec.labels = std::move(labels);
  t.scrape_interval = interval;
  return t;
}

// The whole router in-process: data layer, scheduler, gateway and admin routes on one server.
class Router {
 public:
  explicit Router(std::string config = {}, GatewayOptions gopts = {}, datalayer::DataLayerOptions dopts = {})
      : data_(store_, SystemClock::instance(), dopts) {
    auto plan = sched::load_scheduler_plan(config, sched::builtin_registry(), SystemClock::instance());
    EXPECT_TRUE(plan) << plan.error().message;
    metrics_ = std::make_unique<EppMetrics>(SystemClock::instance(), "pool", store_, 2);
    metrics_->bind_plan(*plan);
    scheduler_ =
        std::make_unique<sched::Scheduler>(std::move(*plan), store_, SystemClock::instance(), metrics_.get());
    gopts.seed = 7;
    gateway_ =
        std::make_unique<Gateway>(*scheduler_, store_, data_, *metrics_, SystemClock::instance(), gopts);
    http::Router routes;
    gateway_->add_routes(routes);
    add_admin_routes(routes, AdminContext{&data_, metrics_.get(), &store_, &SystemClock::instance()});
    http::ServerOptions so;
    so.host = "127.0.0.1";
    so.threads = 2;
    so.drain_timeout = std::chrono::milliseconds(200);
    server_ = std::make_unique<http::Server>(so, std::move(routes));
    gateway_->bind(*server_);
    data_.attach({server_->worker_executor(0), server_->worker_executor(1)});
    EXPECT_TRUE(server_->start());
  }
  ~Router() {
    data_.stop();
    server_->drain();
    server_->wait();
    gateway_->unbind();
    server_.reset();
  }
  void apply(std::vector<EndpointTarget> targets, size_t expect_ready) {
    ASSERT_TRUE(data_.apply(std::move(targets)));
    ASSERT_TRUE(eventually([&] { return store_.snapshot()->endpoints.size() == expect_ready; }));
  }
  uint16_t port() const { return server_->port(); }
  Gateway& gateway() { return *gateway_; }
  EppMetrics& metrics() { return *metrics_; }
  DataLayer& data() { return data_; }

 private:
  sched::EndpointStore store_;
  DataLayer data_;
  std::unique_ptr<EppMetrics> metrics_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<http::Server> server_;
};

std::string completion(const std::string& prompt, bool stream = false, const std::string& model = "m") {
  return R"({"model":")" + model + R"(","prompt":")" + prompt + R"(","max_tokens":3,"stream":)" +
         (stream ? "true" : "false") + "}";
}

boost::json::value parse_json(const std::string& s) { return boost::json::parse(s); }

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* u : {&a_, &b_}) {
      u->set_metrics(http::testing::vllm_metrics_page(0, 0, 0));
      ASSERT_TRUE(u->start());
    }
  }
  FakeUpstream a_{"a"};
  FakeUpstream b_{"b"};
};

TEST_F(GatewayTest, ForwardsOriginalBytesAndSetsHeaders) {
  Router r;
  r.apply({target("a", a_.port()), target("b", b_.port())}, 2);
  // Odd spacing and key order survive: the body is forwarded as received, never re-serialized.
  const std::string body = R"({ "prompt" : "hi",   "model":"m", "extra": [1, 2.50, "x"] })";
  HttpReply rep = http_call(r.port(), "POST", "/v1/completions", body,
                            {{"x-prefiller-host-port", "10.9.9.9:1"},
                             {"x-gateway-destination-endpoint", "10.9.9.9:2"},
                             {"x-data-parallel-host-port", "10.9.9.9:3"},
                             {"x-custom", "kept"}});
  ASSERT_EQ(rep.status, 200) << rep.error << rep.body;
  const auto v = parse_json(rep.body);
  const std::string server(v.at("server").as_string());
  FakeUpstream& up = server == "a" ? a_ : b_;
  EXPECT_EQ(up.last_body(), body);
  EXPECT_EQ(rep.header("x-gateway-destination-endpoint-served"), "127.0.0.1:" + std::to_string(up.port()));
  const std::string id = rep.header("x-request-id");
  EXPECT_TRUE(
      std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  const std::string headers = up.last_headers();
  EXPECT_NE(headers.find("x-request-id: " + id + "\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("x-custom: kept\n"), std::string::npos);
  EXPECT_EQ(headers.find("x-prefiller-host-port"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("x-gateway-destination-endpoint"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("x-data-parallel-host-port"), std::string::npos) << headers;
  EXPECT_NE(headers.find("host: 127.0.0.1:" + std::to_string(up.port())), std::string::npos) << headers;

  HttpReply given =
      http_call(r.port(), "POST", "/v1/completions", completion("x"), {{"x-request-id", "req-42"}});
  ASSERT_EQ(given.status, 200);
  EXPECT_EQ(given.header("x-request-id"), "req-42");
  // Per-request state is recycled: nothing of one request (its id here) carries over to the next.
  std::set<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    const std::vector<std::pair<std::string, std::string>> h = {{"x-request-id", "req-" + std::to_string(i)}};
    HttpReply rep =
        http_call(r.port(), "POST", "/v1/completions", completion("y"), i % 2 == 0 ? h : decltype(h){});
    ASSERT_EQ(rep.status, 200) << rep.body;
    const std::string got = rep.header("x-request-id");
    if (i % 2 == 0) {
      EXPECT_EQ(got, "req-" + std::to_string(i));
    } else {
      EXPECT_TRUE(ids.insert(got).second) << got;
      EXPECT_EQ(got.size(), 36u) << got;
    }
  }
  // One request at a time: each of the two workers allocated at most one state and reused it.
  EXPECT_LE(r.gateway().stats().request_states, 2u);
  EXPECT_GE(r.gateway().stats().request_states, 1u);
}

// Header names reach the scheduler with the case the client sent; plugins look them up ignoring it.
TEST_F(GatewayTest, SessionTokenInAnyCaseKeepsTheSession) {
  Router r(R"(
apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: session-affinity-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: session-affinity-scorer, weight: 10}
)");
  r.apply({target("a", a_.port()), target("b", b_.port())}, 2);
  HttpReply first = http_call(r.port(), "POST", "/v1/completions", completion("s0"));
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string token = first.header("x-session-token");
  ASSERT_FALSE(token.empty());
  const std::string server(parse_json(first.body).at("server").as_string());
  for (int i = 1; i < 12; ++i) {
    HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("s" + std::to_string(i)),
                              {{i % 2 == 0 ? "X-Session-Token" : "X-SESSION-TOKEN", token}});
    ASSERT_EQ(rep.status, 200) << rep.body;
    EXPECT_EQ(parse_json(rep.body).at("server").as_string(), server) << i;
  }
}

TEST_F(GatewayTest, SamePrefixSticksToOneEndpoint) {
  Router r;
  r.apply({target("a", a_.port()), target("b", b_.port())}, 2);
  const std::string prefix(2000, 'p');
  std::set<std::string> servers;
  for (int i = 0; i < 10; ++i) {
    HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion(prefix + std::to_string(i)));
    ASSERT_EQ(rep.status, 200) << rep.body;
    servers.insert(std::string(parse_json(rep.body).at("server").as_string()));
  }
  EXPECT_EQ(servers.size(), 1u);
  const std::string page = r.metrics().expose();
  EXPECT_NE(page.find("llm_d_epp_prefix_indexer_hit_ratio_count{plugin_name=\"approx-prefix-cache-producer\","
                      "plugin_type=\"approx-prefix-cache-producer\"} 10"),
            std::string::npos)
      << page;
}

TEST_F(GatewayTest, StreamPassesThroughUnchanged) {
  Router r;
  r.apply({target("a", a_.port())}, 1);
  const std::vector<std::pair<std::string, std::string>> h = {{"x-fake-chunks", "5"}};
  HttpReply via = http_call(r.port(), "POST", "/v1/completions", completion("s", true), h);
  HttpReply direct = http_call(a_.port(), "POST", "/v1/completions", completion("s", true), h);
  ASSERT_EQ(via.status, 200) << via.body;
  ASSERT_EQ(direct.status, 200);
  EXPECT_EQ(via.body, direct.body);
  EXPECT_NE(via.body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(via.header("content-type"), "text/event-stream");
  EXPECT_EQ(via.header("x-gateway-destination-endpoint-served"), "127.0.0.1:" + std::to_string(a_.port()));
}

TEST_F(GatewayTest, BadRequests) {
  Router r;
  r.apply({target("a", a_.port())}, 1);
  HttpReply bad = http_call(r.port(), "POST", "/v1/completions", "{nope");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(std::string(parse_json(bad.body).at("error").at("type").as_string()), "BadRequestError");
  HttpReply no_model = http_call(r.port(), "POST", "/v1/chat/completions", R"({"messages":[]})");
  EXPECT_EQ(no_model.status, 400);
  EXPECT_EQ(std::string(parse_json(no_model.body).at("error").at("param").as_string()), "model");
  EXPECT_EQ(a_.requests(), 0u);
  EXPECT_NE(r.metrics().expose().find("error_code=\"BadRequest\"} 2"), std::string::npos)
      << r.metrics().expose();
}

TEST_F(GatewayTest, UnknownModelIs404OnceModelsAreKnown) {
  a_.set_models({"m"});
  Router r;
  r.apply({target("a", a_.port())}, 1);
  ASSERT_TRUE(eventually([&] { return r.data().models()->complete; }));
  HttpReply unknown = http_call(r.port(), "POST", "/v1/completions", completion("x", false, "other"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(std::string(parse_json(unknown.body).at("error").at("type").as_string()), "NotFoundError");
  HttpReply known = http_call(r.port(), "POST", "/v1/completions", completion("x", false, "m"));
  EXPECT_EQ(known.status, 200);
  HttpReply models = http_call(r.port(), "GET", "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(parse_json(models.body).at("data").as_array().size(), 1u);
}

TEST_F(GatewayTest, NoEndpointsIs503) {
  Router r;
  HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(rep.status, 503);
  EXPECT_EQ(rep.header("x-llm-d-request-dropped-reason"), "rejected-no-endpoints");
  HttpReply other = http_call(r.port(), "GET", "/tokenize");
  EXPECT_EQ(other.status, 503);
  HttpReply ready = http_call(r.port(), "GET", "/ready");
  EXPECT_EQ(ready.status, 503);
}

TEST_F(GatewayTest, FiltersLeavingNothingIs429) {
  Router r(R"(apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: by-label
  parameters: {label: tier, validValues: [gold]}
- type: queue-scorer
)");
  r.apply({target("a", a_.port(), std::chrono::milliseconds(10), {{"tier", "silver"}})}, 1);
  HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("x"));
  EXPECT_EQ(rep.status, 429);
  EXPECT_EQ(rep.header("x-llm-d-request-dropped-reason"), "rejected-saturated");
  EXPECT_EQ(a_.requests(), 0u);
}

TEST_F(GatewayTest, ConnectFailuresFallBackToAnotherEndpoint) {
  const llmd::testing::RefusedPort dead;  // connects are refused for the whole test
  const uint16_t dead_port = dead.port();
  Router r;
  // Not scraped, so the dead endpoint stays a candidate and every request may pick it first.
  r.apply({target("dead", dead_port, Nanos(0)), target("a", a_.port(), Nanos(0))}, 2);
  for (int i = 0; i < 20; ++i) {
    HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("f" + std::to_string(i)));
    ASSERT_EQ(rep.status, 200) << rep.body;
    EXPECT_EQ(rep.header("x-gateway-destination-endpoint-served"), "127.0.0.1:" + std::to_string(a_.port()));
  }
  EXPECT_GT(r.gateway().stats().connect_retries, 0u);
}

TEST_F(GatewayTest, UpstreamFailuresAre502And504) {
  const llmd::testing::RefusedPort dead;  // connects are refused for the whole test
  const uint16_t dead_port = dead.port();
  {
    Router r;
    r.apply({target("dead", dead_port, Nanos(0))}, 1);
    HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("x"));
    EXPECT_EQ(rep.status, 502);
    EXPECT_EQ(std::string(parse_json(rep.body).at("error").at("type").as_string()), "BadGatewayError");
  }
  GatewayOptions o;
  o.first_byte_timeout = std::chrono::milliseconds(200);
  Router r({}, o);
  r.apply({target("a", a_.port())}, 1);
  HttpReply slow =
      http_call(r.port(), "POST", "/v1/completions", completion("x"), {{"x-fake-delay-ms", "3000"}});
  EXPECT_EQ(slow.status, 504);
  // An upstream's own error status is relayed, not replaced.
  HttpReply relayed =
      http_call(r.port(), "POST", "/v1/completions", completion("x"), {{"x-fake-status", "429"}});
  EXPECT_EQ(relayed.status, 429);
  EXPECT_NE(r.metrics().expose().find("error_code=\"ModelServerError\"} 2"), std::string::npos)
      << r.metrics().expose();
}

// An upstream that dies mid-stream: the client's SSE stream ends with an error event in OpenAI's error
// shape, then [DONE] and a clean end, never a bare cut; the failure is counted by cause.
TEST_F(GatewayTest, UpstreamDyingMidStreamEndsTheStreamWithAnErrorEvent) {
  Router r;
  r.apply({target("a", a_.port())}, 1);
  HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("x", true),
                            {{"x-fake-mode", "cut"}, {"x-fake-chunks", "4"}});
  ASSERT_EQ(rep.status, 200) << rep.error;  // the stream had started
  EXPECT_TRUE(rep.error.empty()) << "the stream was cut: " << rep.error;
  const size_t token = rep.body.find("\" tok\"");
  const size_t error = rep.body.find("data: {\"error\":");
  const size_t done = rep.body.find("data: [DONE]");
  ASSERT_NE(token, std::string::npos) << rep.body;
  ASSERT_NE(error, std::string::npos) << rep.body;
  ASSERT_NE(done, std::string::npos) << rep.body;
  EXPECT_LT(token, error);
  EXPECT_LT(error, done);
  EXPECT_NE(rep.body.find("\"code\":502"), std::string::npos) << rep.body;
  EXPECT_EQ(rep.body.find("127.0.0.1"), std::string::npos) << "the error names the upstream: " << rep.body;
  EXPECT_EQ(r.gateway().stats().stream_upstream_errors, 1u);
}

TEST_F(GatewayTest, ClientDisconnectCancelsUpstreamAndReleasesInflight) {
  Router r(R"(apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: inflight-load-producer
- type: active-request-scorer
- type: queue-scorer
)");
  r.apply({target("a", a_.port())}, 1);
  HttpReply partial =
      http::testing::http_call_and_hang_up(r.port(), "/v1/completions", completion("x", true),
                                           {{"x-fake-chunks", "100"}, {"x-fake-chunk-gap-ms", "20"}}, 10);
  EXPECT_EQ(partial.status, 200) << partial.error;
  ASSERT_TRUE(eventually([&] { return a_.cancelled() == 1; }));
  ASSERT_TRUE(eventually([&] { return r.gateway().stats().client_disconnects == 1; }));
  ASSERT_TRUE(eventually([&] {
    return r.metrics().expose().find(
               "llm_d_epp_inflight_requests{endpoint_name=\"a-rank-0\",namespace=\"default\","
               "producer_name=\"inflight-load-producer\",fairness_id=\"default-flow\","
               "priority=\"0\"} 0") != std::string::npos;
  }));
}

TEST_F(GatewayTest, ModelsPassthroughAndAdmin) {
  a_.set_models({"m", "lora-a"});
  b_.set_models({"m", "lora-b"});
  Router r;
  r.apply({target("a", a_.port()), target("b", b_.port())}, 2);
  ASSERT_TRUE(eventually([&] { return r.data().models()->servers.size() == 3; }));
  HttpReply models = http_call(r.port(), "GET", "/v1/models");
  ASSERT_EQ(models.status, 200);
  std::set<std::string> ids;
  const auto list = parse_json(models.body);
  for (const auto& m : list.at("data").as_array()) ids.insert(std::string(m.at("id").as_string()));
  EXPECT_EQ(ids, (std::set<std::string>{"m", "lora-a", "lora-b"}));

  // A LoRA only one endpoint serves goes there.
  for (int i = 0; i < 5; ++i) {
    HttpReply rep =
        http_call(r.port(), "POST", "/v1/completions", completion("q" + std::to_string(i), false, "lora-b"));
    ASSERT_EQ(rep.status, 200);
    EXPECT_EQ(std::string(parse_json(rep.body).at("server").as_string()), "b");
  }

  HttpReply other = http_call(r.port(), "GET", "/version?x=1");
  ASSERT_EQ(other.status, 200);
  EXPECT_EQ(std::string(parse_json(other.body).at("path").as_string()), "/version?x=1");

  EXPECT_EQ(http_call(r.port(), "GET", "/ready").status, 200);
  HttpReply debug = http_call(r.port(), "GET", "/debug/endpoints");
  ASSERT_EQ(debug.status, 200);
  const auto d = parse_json(debug.body);
  EXPECT_EQ(d.at("ready_endpoints").to_number<uint64_t>(), 2u);
  ASSERT_EQ(d.at("endpoints").as_array().size(), 2u);
  const auto& first = d.at("endpoints").as_array()[0];
  EXPECT_EQ(std::string(first.at("id").as_string()), "default/a-rank-0");
  EXPECT_TRUE(first.at("ready").as_bool());
  EXPECT_EQ(first.at("metrics").at("waiting_queue_size").as_int64(), 0);
  // Only b was a candidate for lora-b, so only b has a sampled score.
  EXPECT_TRUE(first.at("last_scores").as_object().empty());
  EXPECT_TRUE(d.at("endpoints").as_array()[1].at("last_scores").as_object().contains("default"));

  HttpReply metrics = http_call(r.port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* name :
       {"llm_d_epp_request_total{model_name=\"lora-b\",target_model_name=\"lora-b\",fairness_id=\"default-"
        "flow\","
        "priority=\"0\"} 5",
        "llm_d_epp_ready_endpoints{name=\"pool\"} 2", "inference_pool_ready_pods{name=\"pool\"} 2",
        "llm_d_epp_average_kv_cache_utilization{name=\"pool\"} 0",
        "llm_d_epp_scheduler_e2e_duration_seconds_count 5",
        // Every run is counted; which bucket a run's duration falls in depends on the machine's load.
        "llm_d_epp_plugin_duration_seconds_count{extension_point=\"Scorer\",plugin_type=\"queue-scorer\","
        "plugin_name=\"queue-scorer\"} 5",
        "llm_d_epp_request_duration_seconds_count{model_name=\"lora-b\"", "llm_d_epp_prefix_indexer_size{"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name << "\n" << metrics.body;
  }
}

// Passive outlier detection: a model server that answers /metrics as if idle but never answers
// inference is ejected after N timeouts in a row, gets nothing while ejected, and returns afterwards.
TEST_F(GatewayTest, HungEndpointIsEjectedAfterConsecutiveTimeoutsAndReturnsLater) {
  a_.set_inference_delay(std::chrono::seconds(30));  // hangs past the upstream timeout
  GatewayOptions gopts;
  gopts.first_byte_timeout = std::chrono::milliseconds(100);
  gopts.idle_timeout = gopts.first_byte_timeout;
  datalayer::DataLayerOptions dopts;
  dopts.outlier.consecutive_local_origin_failure = 3;
  dopts.outlier.consecutive_5xx = 0;
  dopts.outlier.consecutive_gateway_failure = 0;
  dopts.outlier.base_ejection_time = std::chrono::seconds(2);
  dopts.outlier.max_ejection_percent = 50;
  // Round-robin: without outlier detection half the requests would keep going to the hung endpoint.
  Router r(R"(apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: round-robin
)",
           gopts, dopts);
  r.apply({target("a", a_.port()), target("b", b_.port())}, 2);

  int timeouts = 0;
  for (int i = 0; i < 40 && r.data().stats().ejections[2] == 0; ++i) {
    HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("x" + std::to_string(i)));
    if (rep.status == 504) ++timeouts;
  }
  ASSERT_EQ(r.data()
                .stats()
                .ejections[static_cast<size_t>(datalayer::EjectionReason::kConsecutiveLocalOriginFailure)],
            1u);
  EXPECT_EQ(timeouts, 3);  // exactly the threshold's worth of requests paid the timeout
  bool ejected_shown = false;
  for (const auto& st : r.data().status()) {
    if (st.target.spec.id == "default/a-rank-0") ejected_shown = st.ejected && st.ejections == 1;
  }
  EXPECT_TRUE(ejected_shown);
  HttpReply debug = http_call(r.port(), "GET", "/debug/endpoints", "");
  EXPECT_NE(debug.body.find("\"last_ejection\":\"consecutive_local_origin_failure\""), std::string::npos)
      << debug.body;
  HttpReply page = http_call(r.port(), "GET", "/metrics", "");
  EXPECT_EQ(page.status, 200);

  // While it is out, every request goes to b.
  const uint64_t a_before = a_.requests();
  for (int i = 0; i < 10; ++i) {
    HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("y" + std::to_string(i)));
    EXPECT_EQ(rep.status, 200) << rep.body;
  }
  EXPECT_EQ(a_.requests(), a_before);

  // After the ejection time it is readmitted (with its next good scrape) and scheduled again.
  a_.set_inference_delay(std::chrono::milliseconds(0));
  ASSERT_TRUE(eventually([&] { return r.data().stats().returns == 1; }, std::chrono::seconds(30)));
  ASSERT_TRUE(eventually(
      [&] {
        HttpReply rep = http_call(r.port(), "POST", "/v1/completions", completion("z"));
        return rep.status == 200 && a_.requests() > a_before;
      },
      std::chrono::seconds(30)));
}

// A 5xx-answering endpoint is ejected by consecutive_5xx; max_ejection_percent keeps the last one in.
TEST_F(GatewayTest, Consecutive5xxEjectsButNeverBeyondMaxEjectionPercent) {
  datalayer::DataLayerOptions dopts;
  dopts.outlier.consecutive_5xx = 2;
  dopts.outlier.consecutive_gateway_failure = 0;
  dopts.outlier.max_ejection_percent = 0;  // still one may be ejected
  Router r({}, {}, dopts);
  r.apply({target("a", a_.port()), target("b", b_.port())}, 2);
  for (int i = 0; i < 20; ++i) {
    http_call(r.port(), "POST", "/v1/completions", completion("p" + std::to_string(i)),
              {{"x-fake-status", "500"}});
  }
  const auto st = r.data().stats();
  EXPECT_EQ(st.ejections[static_cast<size_t>(datalayer::EjectionReason::kConsecutive5xx)], 1u);
  EXPECT_GE(st.ejections_skipped, 1u);
}

}  // namespace
}  // namespace llmd::router
