#include "extproc/server.h"

#include <deque>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "envoy/service/ext_proc/v3/external_processor.grpc.pb.h"
#include "log/log.h"

namespace llmd::extproc {

namespace {

constexpr const char* kServiceNames[] = {"", "readiness", "envoy.service.ext_proc.v3.ExternalProcessor"};

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

Result<void> Server::start() {
  // The health server alone gets gRPC's standard Health service (the flag is read when a builder
  // is constructed).
  grpc::EnableDefaultHealthCheckService(true);
  {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(fmt::format("{}:{}", options_.host, options_.health_port), grpc::InsecureServerCredentials(),
                       &port);
    health_ = b.BuildAndStart();
    if (!health_ || port == 0) {
      health_.reset();
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("cannot listen on {}:{} (--grpc-health-port)", options_.host, options_.health_port));
    }
    health_port_ = static_cast<uint16_t>(port);
  }
  grpc::EnableDefaultHealthCheckService(false);
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort(fmt::format("{}:{}", options_.host, options_.port), grpc::InsecureServerCredentials(), &port);
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
  grpc::HealthCheckServiceInterface* hc = health_->GetHealthCheckService();
  hc->SetServingStatus("liveness", true);
  for (const char* name : kServiceNames) hc->SetServingStatus(name, false);
  return {};
}

void Server::set_ready(bool ready) {
  ready_ = ready;
  if (!health_) return;
  for (const char* name : kServiceNames) health_->GetHealthCheckService()->SetServingStatus(name, ready_ && !draining_);
}

void Server::shutdown(std::chrono::milliseconds grace) {
  draining_ = true;
  set_ready(ready_);
  const auto deadline = std::chrono::system_clock::now() + grace;
  if (server_) server_->Shutdown(deadline);
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
