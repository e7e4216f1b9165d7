#pragma once
// The gRPC side of `llmd epp`: envoy.service.ext_proc.v3.ExternalProcessor/Process on one port, and
// grpc.health.v1.Health on another, as llm-d's EPP serves them. Each Process stream is one request
// and runs a Processor through gRPC's callback API: a stream holds no thread while it waits.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "extproc/processor.h"
#include "extproc/tls.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace llmd::extproc {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 9002;         // 0: pick a free port
  uint16_t health_port = 9003;  // 0: pick a free port
  // gRPC message size limits (llm-d's --grpc-max-recv-msg-size / --grpc-max-send-msg-size; Go's
  // default receive limit is 4 MiB).
  int max_recv_msg_bytes = 4 * 1024 * 1024;
  int max_send_msg_bytes = 64 * 1024 * 1024;
  // EppMetrics worker slots the stream threads may take (see EppMetrics::series).
  unsigned metrics_slots = 1;
  uint64_t seed = 0;
  // TLS on the ext_proc port; plaintext when absent. The health port is always plaintext, as
  // llm-d's (kubelet's gRPC probes do not speak TLS).
  std::optional<TlsMaterial> tls;
};

struct ServerStats {
  uint64_t streams = 0;          // Process streams opened
  uint64_t decisions = 0;        // requests scheduled
  uint64_t protocol_errors = 0;  // streams ended with INVALID_ARGUMENT
};

class Server {
 public:
  Server(const ProcessorContext& ctx, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds both ports and starts serving; readiness starts NOT_SERVING (see set_ready).
  Result<void> start();
  uint16_t port() const { return port_; }
  uint16_t health_port() const { return health_port_; }

  // Readiness: "", "readiness" and the ext_proc service report SERVING only when ready and not
  // draining; "liveness" is always SERVING.
  void set_ready(bool ready);
  // Reports NOT_SERVING, keeps serving for `grace`, then stops; streams still open a second later
  // are cancelled. Blocks until both servers have stopped.
  void shutdown(std::chrono::milliseconds grace);

  ServerStats stats() const;

  struct Stream;  // one Process stream

 private:
  friend struct Stream;
  const ProcessorContext& ctx_;
  const ServerOptions options_;
  struct Service;
  struct Health;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Health> health_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_;
  uint16_t port_ = 0;
  uint16_t health_port_ = 0;
  bool ready_ = false;
  bool draining_ = false;
  std::atomic<bool> serving_{false};
  std::atomic<uint64_t> stream_seq_{0};
  std::atomic<unsigned> next_slot_{0};
  std::atomic<uint64_t> decisions_{0};
  std::atomic<uint64_t> protocol_errors_{0};
};

}  // namespace llmd::extproc
