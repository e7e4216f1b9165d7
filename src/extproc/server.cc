#include "extproc/server.h"

#include <algorithm>
#include <deque>
#include <string_view>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "envoy/service/ext_proc/v3/external_processor.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "log/log.h"

namespace llmd::extproc {

namespace {

// Services whose health follows readiness; "liveness" is SERVING while the process runs.
constexpr std::string_view kReadyServices[] = {"", "readiness",
                                               "envoy.service.ext_proc.v3.ExternalProcessor"};

// splitmix64: decorrelates the per-stream seeds drawn from one counter.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

// Reads and writes alternate: the next read starts only once every response to the previous
// message is written. Envoy never needs more (it waits for our answers, and in
// FULL_DUPLEX_STREAMED nothing is answered before the body ends), so callbacks never overlap, the
// stream needs no lock, and its queue holds one message's responses at most.
struct Server::Stream final : grpc::ServerBidiReactor<pb::ProcessingRequest, pb::ProcessingResponse> {
  Stream(Server& s, unsigned slot)
      : server(s), processor(s.ctx_, mix(s.options_.seed ^ s.stream_seq_.fetch_add(1)), slot) {
    StartRead(&in);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed or went away
      finish(grpc::Status::OK);
      return;
    }
    std::vector<pb::ProcessingResponse> out;
    const uint64_t before = processor.decisions();
    auto r = processor.handle(in, out);
    if (processor.decisions() != before) server.decisions_.fetch_add(1, std::memory_order_relaxed);
    for (auto& m : out) pending.push_back(std::move(m));
    if (!r) {
      server.protocol_errors_.fetch_add(1, std::memory_order_relaxed);
      end_status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r.error().message);
      ending = true;
    } else if (processor.finished()) {
      ending = true;  // an ImmediateResponse ends the exchange
    }
    next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      finish(grpc::Status::OK);
      return;
    }
    pending.pop_front();
    next();
  }

  void OnDone() override { delete this; }

  // Writes what is queued, then reads the next message or ends the stream.
  void next() {
    if (!pending.empty()) {
      StartWrite(&pending.front());
      return;
    }
    if (ending) {
      finish(end_status);
      return;
    }
    StartRead(&in);
  }

  void finish(const grpc::Status& status) {
    if (finished) return;
    finished = true;
    Finish(status);
  }

  Server& server;
  Processor processor;
  pb::ProcessingRequest in;
  std::deque<pb::ProcessingResponse> pending;
  grpc::Status end_status = grpc::Status::OK;
  bool ending = false;
  bool finished = false;
};

struct Server::Service final : envoy::service::ext_proc::v3::ExternalProcessor::CallbackService {
  explicit Service(Server& s) : server(s) {}
  grpc::ServerBidiReactor<pb::ProcessingRequest, pb::ProcessingResponse>* Process(
      grpc::CallbackServerContext* /*context*/) override {
    // Each thread keeps the metrics slot it first drew; threads past the slots share the slow path.
    thread_local unsigned slot = server.next_slot_.fetch_add(1, std::memory_order_relaxed);
    return new Stream(server, slot < server.options_.metrics_slots ? slot : server.options_.metrics_slots);
  }
  Server& server;
};

Server::Server(const ProcessorContext& ctx, ServerOptions options)
    : ctx_(ctx), options_(std::move(options)), service_(std::make_unique<Service>(*this)) {}

Server::~Server() {
  if (server_ || health_) shutdown(std::chrono::milliseconds(0));
}

// grpc.health.v1.Health/Check as llm-d's EPP answers it. Hand-written rather than gRPC++'s default
// service, which needs a polled completion queue that a server of callback services lacks.
struct Server::Health final : grpc::health::v1::Health::CallbackService {
  explicit Health(Server& s) : server(s) {}
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::health::v1::HealthCheckResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    using Status = grpc::health::v1::HealthCheckResponse;
    if (req->service() == "liveness") {
      resp->set_status(Status::SERVING);
    } else if (std::find(std::begin(kReadyServices), std::end(kReadyServices), req->service()) !=
               std::end(kReadyServices)) {
      resp->set_status(server.serving_.load(std::memory_order_acquire) ? Status::SERVING
                                                                       : Status::NOT_SERVING);
    } else {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  Server& server;
};

Result<void> Server::start() {
  health_service_ = std::make_unique<Health>(*this);
  {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(fmt::format("{}:{}", options_.host, options_.health_port),
                       grpc::InsecureServerCredentials(), &port);
    b.RegisterService(health_service_.get());
    health_ = b.BuildAndStart();
    if (!health_ || port == 0) {
      health_.reset();
      return make_error(ErrorCode::kUnavailable, fmt::format("cannot listen on {}:{} (--grpc-health-port)",
                                                             options_.host, options_.health_port));
    }
    health_port_ = static_cast<uint16_t>(port);
  }
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (options_.tls) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options_.tls->key_pem, options_.tls->cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort(fmt::format("{}:{}", options_.host, options_.port), creds, &port);
  b.SetMaxReceiveMessageSize(options_.max_recv_msg_bytes);
  b.SetMaxSendMessageSize(options_.max_send_msg_bytes);
  b.RegisterService(service_.get());
  server_ = b.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    health_->Shutdown();
    health_.reset();
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot listen on {}:{} (--grpc-port)", options_.host, options_.port));
  }
  port_ = static_cast<uint16_t>(port);
  return {};
}

void Server::set_ready(bool ready) {
  ready_ = ready;
  serving_.store(ready_ && !draining_, std::memory_order_release);
}

void Server::shutdown(std::chrono::milliseconds grace) {
  draining_ = true;
  set_ready(ready_);
  // llm-d keeps serving ext_proc while health says NOT_SERVING, so that the gateway moves away
  // first; then streams still open are cancelled.
  if (server_ && grace.count() > 0) std::this_thread::sleep_for(grace);
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (health_) health_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  health_.reset();
}

ServerStats Server::stats() const {
  ServerStats s;
  s.streams = stream_seq_.load(std::memory_order_relaxed);
  s.decisions = decisions_.load(std::memory_order_relaxed);
  s.protocol_errors = protocol_errors_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace llmd::extproc
