// `llmd epp` as a black box, driven by a gRPC client that plays Envoy: it sends a request's
// headers and body over ext_proc, forwards the request to the endpoint the EPP picked (as Envoy's
// ORIGINAL_DST cluster would), and passes the model server's answer back through the stream.
// The endpoints are `llmd sim` replicas.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include <gtest/gtest.h>

#include "common/testing/eventually.h"
#include "envoy/service/ext_proc/v3/external_processor.grpc.pb.h"
#include "extproc/testing/envoy_messages.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "http/testing/http_call.h"
#include "support/process.h"

namespace llmd {
namespace {

namespace pb = envoy::service::ext_proc::v3;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using http::testing::http_call;
using llmd::testing::eventually;

testing::Listening spawn_sim() {
  auto s = testing::spawn_llmd_listening(1, [](uint16_t port) {
    return std::vector<std::string>{"sim",       "--host",  "127.0.0.1", "--port",   std::to_string(port),
                                    "--profile", "instant", "--model",   "sim-model"};
  });
  EXPECT_TRUE(s.ready) << s.process.output();
  return s;
}

// `llmd epp` on three consecutive ports: ext_proc, health, metrics.
testing::Listening spawn_epp(const std::vector<std::string>& extra) {
  auto e = testing::spawn_llmd_listening(3, [&](uint16_t port) {
    std::vector<std::string> args = {"epp",
                                     "--grpc-host",
                                     "127.0.0.1",
                                     "--grpc-port",
                                     std::to_string(port),
                                     "--grpc-health-port",
                                     std::to_string(port + 1),
                                     "--admin-host",
                                     "127.0.0.1",
                                     "--metrics-port",
                                     std::to_string(port + 2),
                                     "--drain-timeout",
                                     "1s"};
    if (std::find(extra.begin(), extra.end(), "--secure-serving") == extra.end() &&
        std::find(extra.begin(), extra.end(), "--cert-path") == extra.end()) {
      args.push_back("--secure-serving=false");
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  });
  EXPECT_TRUE(e.ready) << e.process.output();
  return e;
}

using extproc::testing::header;
using extproc::testing::request_headers;

// One request through the EPP and on to the endpoint it picked.
struct Exchange {
  std::string destination;   // as the EPP set it
  int immediate_status = 0;  // when the EPP answered with an ImmediateResponse
  int upstream_status = 0;
  std::string upstream_body;
  std::string relayed_body;  // the answer as the EPP passed it back
  bool went_into_resp_headers = false;
  grpc::Status status;
};

class EppTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (auto& s : sims_) s = std::make_unique<testing::Listening>(spawn_sim());
  }
  static void TearDownTestSuite() {
    for (auto& s : sims_) s.reset();
  }

  static std::vector<std::string> endpoint_flags() {
    std::vector<std::string> f;
    for (auto& s : sims_) {
      f.push_back("--endpoint");
      f.push_back("127.0.0.1:" + std::to_string(s->port));
    }
    return f;
  }

  void start(std::vector<std::string> extra = {}) {
    auto flags = endpoint_flags();
    flags.insert(flags.end(), extra.begin(), extra.end());
    epp_ = std::make_unique<testing::Listening>(spawn_epp(flags));
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(epp_->port), grpc::InsecureChannelCredentials());
    stub_ = pb::ExternalProcessor::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(epp_->port + 1), grpc::InsecureChannelCredentials()));
    // Scheduling needs scraped endpoints: wait until the EPP's /debug/endpoints shows them ready.
    ASSERT_TRUE(eventually([&] {
      auto r = http_call(static_cast<uint16_t>(epp_->port + 2), "GET", "/ready");
      return r.status == 200;
    })) << epp_->process.output();
  }

  HealthCheckResponse::ServingStatus health(const std::string& service, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::Status s = health_->Check(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    return resp.status();
  }

  // Plays Envoy's FULL_DUPLEX_STREAMED sequence for one request, forwarding it to the picked sim.
  Exchange exchange(const std::string& body, const std::string& path = "/v1/completions",
                    const google::protobuf::Struct* subset_hint = nullptr, size_t chunk = 16 * 1024) {
    Exchange ex;
    grpc::ClientContext ctx;
    auto stream = stub_->Process(&ctx);
    pb::ProcessingRequest first = request_headers(path);
    if (subset_hint != nullptr)
      (*first.mutable_metadata_context()->mutable_filter_metadata())["envoy.lb.subset_hint"] = *subset_hint;
    EXPECT_TRUE(stream->Write(first));
    for (size_t at = 0; at < body.size() || at == 0; at += chunk) {
      pb::ProcessingRequest b;
      b.mutable_request_body()->set_body(body.substr(at, chunk));
      b.mutable_request_body()->set_end_of_stream(at + chunk >= body.size());
      EXPECT_TRUE(stream->Write(b));
      if (body.empty()) break;
    }
    pb::ProcessingResponse r;
    if (!stream->Read(&r)) {
      ex.status = stream->Finish();
      return ex;
    }
    if (r.has_immediate_response()) {
      ex.immediate_status = r.immediate_response().status().code();
      stream->WritesDone();
      ex.status = stream->Finish();
      return ex;
    }
    EXPECT_TRUE(r.has_request_headers());
    ex.destination =
        header(r.request_headers().response().header_mutation(), "x-gateway-destination-endpoint");
    EXPECT_EQ(r.dynamic_metadata()
                  .fields()
                  .at("envoy.lb")
                  .struct_value()
                  .fields()
                  .at("x-gateway-destination-endpoint")
                  .string_value(),
              ex.destination);
    // The body comes back whole, in chunks.
    std::string forwarded;
    for (;;) {
      pb::ProcessingResponse b;
      if (!stream->Read(&b)) break;
      const auto& sb = b.request_body().response().body_mutation().streamed_response();
      forwarded += sb.body();
      if (sb.end_of_stream()) break;
    }
    EXPECT_EQ(forwarded, body);
    // Envoy routes to the first endpoint of the list.
    const std::string first_dest = ex.destination.substr(0, ex.destination.find(','));
    const uint16_t port = static_cast<uint16_t>(std::stoi(first_dest.substr(first_dest.rfind(':') + 1)));
    auto reply = http_call(port, "POST", path, forwarded);
    ex.upstream_status = reply.status;
    ex.upstream_body = reply.body;
    pb::ProcessingRequest rh;
    auto* hs = rh.mutable_response_headers()->mutable_headers();
    auto* st = hs->add_headers();
    st->set_key(":status");
    st->set_raw_value(std::to_string(reply.status));
    auto* ct = hs->add_headers();
    ct->set_key("content-type");
    ct->set_raw_value("application/json");
    EXPECT_TRUE(stream->Write(rh));
    pb::ProcessingResponse hr;
    EXPECT_TRUE(stream->Read(&hr));
    ex.went_into_resp_headers =
        header(hr.response_headers().response().header_mutation(), "x-went-into-resp-headers") == "true";
    pb::ProcessingRequest rb;
    rb.mutable_response_body()->set_body(reply.body);
    rb.mutable_response_body()->set_end_of_stream(true);
    EXPECT_TRUE(stream->Write(rb));
    pb::ProcessingResponse br;
    EXPECT_TRUE(stream->Read(&br));
    ex.relayed_body = br.response_body().response().body_mutation().streamed_response().body();
    stream->WritesDone();
    ex.status = stream->Finish();
    return ex;
  }

  static std::string completion(const std::string& prompt) {
    return R"({"model":"sim-model","prompt":")" + prompt + R"(","max_tokens":2})";
  }

  static inline std::unique_ptr<testing::Listening> sims_[3];
  std::unique_ptr<testing::Listening> epp_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ExternalProcessor::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(EppTest, PicksForwardsAndPassesTheAnswerBack) {
  start();
  // Over 62,000 bytes, sent in 16 KiB chunks.
  const Exchange ex = exchange(completion(std::string(70'000, 'w')));
  ASSERT_TRUE(ex.status.ok()) << ex.status.error_message() << epp_->process.output();
  EXPECT_EQ(ex.upstream_status, 200) << ex.upstream_body;
  EXPECT_EQ(ex.relayed_body, ex.upstream_body);
  EXPECT_TRUE(ex.went_into_resp_headers);
}

TEST_F(EppTest, ASharedPrefixSticksAndLoadSpreads) {
  start();
  const std::string prefix(8'000, 's');
  std::string first;
  for (int i = 0; i < 6; ++i) {
    const Exchange ex = exchange(completion(prefix + std::to_string(i)));
    ASSERT_TRUE(ex.status.ok()) << ex.status.error_message();
    if (first.empty()) first = ex.destination;
    EXPECT_EQ(ex.destination, first) << i;
  }
  std::set<std::string> seen;
  for (int i = 0; i < 30; ++i)
    seen.insert(exchange(completion(std::to_string(i) + std::string(4'000, 'd'))).destination);
  EXPECT_GT(seen.size(), 1u);
}

TEST_F(EppTest, SubsetHintsAndErrorsAnswerAsLlmdDoes) {
  start();
  const std::string only = "127.0.0.1";  // every sim shares the IP: the whole pool matches
  google::protobuf::Struct hint;
  hint.mutable_fields()
      ->
      operator[]("x-gateway-destination-endpoint-subset")
      .mutable_list_value()
      ->add_values()
      ->set_string_value(only + ":1");
  EXPECT_EQ(exchange(completion("h"), "/v1/completions", &hint).destination.rfind("127.0.0.1:", 0), 0u);
  google::protobuf::Struct none;
  none.mutable_fields()->operator[]("x-gateway-destination-endpoint-subset").mutable_list_value();
  EXPECT_EQ(exchange(completion("h"), "/v1/completions", &none).immediate_status, 503);
  EXPECT_EQ(exchange("{oops").immediate_status, 400);
  // Unknown models are known once every endpoint has listed its models.
  EXPECT_TRUE(eventually(
      [&] { return exchange(R"({"model":"no-such-model","prompt":"x"})").immediate_status == 404; }));
}

TEST_F(EppTest, ABrokenOrCancelledStreamLeavesTheServerUp) {
  start();
  {
    // A body before any headers: the stream ends with INVALID_ARGUMENT.
    grpc::ClientContext ctx;
    auto stream = stub_->Process(&ctx);
    pb::ProcessingRequest b;
    b.mutable_request_body()->set_body("x");
    ASSERT_TRUE(stream->Write(b));
    pb::ProcessingResponse r;
    EXPECT_FALSE(stream->Read(&r));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (int i = 0; i < 20; ++i) {
    // The client goes away mid-request, before and after the decision.
    grpc::ClientContext ctx;
    auto stream = stub_->Process(&ctx);
    ASSERT_TRUE(stream->Write(request_headers("/v1/completions")));
    if (i % 2 == 1) {
      pb::ProcessingRequest b;
      b.mutable_request_body()->set_body(completion("c"));
      b.mutable_request_body()->set_end_of_stream(true);
      ASSERT_TRUE(stream->Write(b));
      pb::ProcessingResponse r;
      ASSERT_TRUE(stream->Read(&r));
    }
    ctx.TryCancel();
    stream->Finish();
  }
  const Exchange ex = exchange(completion("after"));
  EXPECT_TRUE(ex.status.ok()) << ex.status.error_message();
  EXPECT_EQ(ex.upstream_status, 200);
}

// Sum of llm_d_epp_inflight_requests over the endpoints, from the EPP's /metrics; -1 when absent.
double inflight(uint16_t metrics_port) {
  const auto page = http_call(metrics_port, "GET", "/metrics").body;
  double sum = -1;
  size_t at = 0;
  while ((at = page.find("\nllm_d_epp_inflight_requests{", at)) != std::string::npos) {
    const size_t eol = page.find('\n', at + 1);
    const std::string line = page.substr(at + 1, eol - at - 1);
    sum = (sum < 0 ? 0 : sum) + std::stod(line.substr(line.rfind(' ') + 1));
    at = eol;
  }
  return sum;
}

TEST_F(EppTest, AStreamThatGoesAwayReleasesItsInflightCount) {
  start({"--config-text",
         "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\nplugins:\n- type: inflight-load-producer\n"
         "- type: queue-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - pluginRef: "
         "queue-scorer\n"});
  const uint16_t metrics_port = static_cast<uint16_t>(epp_->port + 2);
  grpc::ClientContext ctx;
  auto stream = stub_->Process(&ctx);
  ASSERT_TRUE(stream->Write(request_headers("/v1/completions")));
  pb::ProcessingRequest b;
  b.mutable_request_body()->set_body(completion("held"));
  b.mutable_request_body()->set_end_of_stream(true);
  ASSERT_TRUE(stream->Write(b));
  pb::ProcessingResponse r;
  ASSERT_TRUE(stream->Read(&r));
  ASSERT_TRUE(r.has_request_headers());
  // Decided and not yet answered: in flight on its endpoint.
  EXPECT_TRUE(eventually([&] { return inflight(metrics_port) == 1; })) << inflight(metrics_port);
  ctx.TryCancel();
  stream->Finish();
  EXPECT_TRUE(eventually([&] { return inflight(metrics_port) == 0; })) << inflight(metrics_port);
}

TEST_F(EppTest, HealthFollowsReadinessAndDrain) {
  start();
  EXPECT_EQ(health("liveness"), HealthCheckResponse::SERVING);
  EXPECT_EQ(health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(health("envoy.service.ext_proc.v3.ExternalProcessor"), HealthCheckResponse::SERVING);
  grpc::Status unknown;
  health("no.such.Service", &unknown);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  // SIGTERM: NOT_SERVING during --drain-timeout (1 s here), while ext_proc still answers.
  ASSERT_TRUE(epp_->process.signal(SIGTERM));
  EXPECT_TRUE(eventually([&] { return health("readiness") == HealthCheckResponse::NOT_SERVING; }));
  EXPECT_EQ(health("liveness"), HealthCheckResponse::SERVING);
}

TEST(EppUnreachable, AnEndpointWhoseScrapesFailIsNotPicked) {
  auto sim = spawn_sim();
  const uint16_t dead = testing::free_port();  // nothing listens there
  auto epp = spawn_epp({"--endpoint", "127.0.0.1:" + std::to_string(sim.port), "--endpoint",
                        "127.0.0.1:" + std::to_string(dead)});
  auto stub = pb::ExternalProcessor::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(epp.port), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(eventually(
      [&] { return http_call(static_cast<uint16_t>(epp.port + 2), "GET", "/ready").status == 200; }));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    auto stream = stub->Process(&ctx);
    ASSERT_TRUE(stream->Write(request_headers("/v1/completions")));
    pb::ProcessingRequest b;
    b.mutable_request_body()->set_body(R"({"model":"sim-model","prompt":")" + std::to_string(i) + R"("})");
    b.mutable_request_body()->set_end_of_stream(true);
    ASSERT_TRUE(stream->Write(b));
    pb::ProcessingResponse r;
    ASSERT_TRUE(stream->Read(&r));
    ASSERT_TRUE(r.has_request_headers()) << r.DebugString();
    EXPECT_EQ(header(r.request_headers().response().header_mutation(), "x-gateway-destination-endpoint"),
              "127.0.0.1:" + std::to_string(sim.port));
    ctx.TryCancel();
    stream->Finish();
  }
}

// Runs a shell command; its stdout.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(EppTls, ServesTheCertificateFromCertPath) {
  auto sim = spawn_sim();
  const auto dir = std::filesystem::temp_directory_path() / ("llmd-epp-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost -keyout " +
      (dir / "tls.key").string() + " -out " + (dir / "tls.crt").string() + " 2>/dev/null");
  ASSERT_TRUE(std::filesystem::exists(dir / "tls.crt"));
  auto epp = spawn_epp({"--endpoint", "127.0.0.1:" + std::to_string(sim.port), "--cert-path", dir.string()});
  ASSERT_TRUE(eventually(
      [&] { return http_call(static_cast<uint16_t>(epp.port + 2), "GET", "/ready").status == 200; }));
  auto decide = [&](std::shared_ptr<grpc::ChannelCredentials> creds) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = pb::ExternalProcessor::NewStub(
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(epp.port), creds, args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stream = stub->Process(&ctx);
    pb::ProcessingRequest b;
    b.mutable_request_body()->set_body(R"({"model":"sim-model","prompt":"tls"})");
    b.mutable_request_body()->set_end_of_stream(true);
    pb::ProcessingResponse r;
    const bool ok = stream->Write(request_headers("/v1/completions")) && stream->Write(b) &&
                    stream->Read(&r) && r.has_request_headers();
    ctx.TryCancel();
    stream->Finish();
    return ok;
  };
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read_all(dir / "tls.crt");
  EXPECT_TRUE(decide(grpc::SslCredentials(ssl)));
  EXPECT_FALSE(decide(grpc::InsecureChannelCredentials()));  // TLS only on the ext_proc port
  std::filesystem::remove_all(dir);
}

TEST(EppTls, MakesASelfSignedCertificateWithoutCertPath) {
  auto sim = spawn_sim();
  auto epp = spawn_epp({"--endpoint", "127.0.0.1:" + std::to_string(sim.port), "--secure-serving"});
  const std::string cert = run("openssl s_client -connect 127.0.0.1:" + std::to_string(epp.port) +
                               " -alpn h2 </dev/null 2>/dev/null | "
                               "openssl x509 -noout -subject -ext subjectAltName 2>/dev/null");
  EXPECT_NE(cert.find("CN = llmd-epp"), std::string::npos) << cert;
  EXPECT_NE(cert.find("IP Address:127.0.0.1"), std::string::npos) << cert;
}

}  // namespace
}  // namespace llmd
