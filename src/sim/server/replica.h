#pragma once
// One simulated vLLM server: an HTTP front end (vLLM's API, metrics and errors) on its own port and
// one engine thread running a sim::Engine on the injected clock (`llmd sim` passes the system
// clock), in the llama.cpp server pattern:
//
//   HTTP worker ──tasks (bounded lock-free queue)──▶ engine thread ──results (posted batches)──▶ HTTP worker
//
// The engine thread sleeps for each step's modelled duration and blocks on a condition variable
// when there is nothing to run, so an idle replica uses no CPU. Results go back as one posted
// batch per step; at most kMaxPendingResultBatches may be outstanding, after which the engine waits
// (counted), so a stalled HTTP worker cannot grow memory without bound.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/random.h"
#include "http/server.h"
#include "sim/engine/engine.h"
#include "sim/server/codec.h"
#include "sim/server/openai.h"
#include "vllm/kv_transfer_params.h"

namespace llmd::http {
class Client;
}

namespace llmd::sim {

class KvPublisher;
class ReplicaDirectory;
class ReplicaMetrics;
enum class ControlKind;
struct ControlTask;

enum class FailureType {
  kRateLimit,
  kInvalidApiKey,
  kContextLength,
  kServerError,
  kInvalidRequest,
  kModelNotFound
};

struct ReplicaConfig {
  int index = 0;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string advertise_host = "127.0.0.1";  // remote_host in kv_transfer_params, the pod id in topics
  std::string model;                         // served model name
  Profile profile;
  EngineConfig engine;
  bool lora_enabled = false;                                      // exposes vllm:lora_requests_info
  std::vector<std::pair<std::string, std::string>> lora_modules;  // name, path
  double failure_rate = 0;                                        // percent
  std::vector<FailureType> failure_types;
  Nanos startup_delay{0};
  size_t task_queue_capacity = 65'536;
  std::string version;
  uint64_t seed = 0;             // failure injection
  uint64_t request_id_seed = 0;  // generated request ids; differ per process so ids do not collide
  // The HTTP server's limits and timeouts (read, idle, drain): ServerOptions' defaults unless set.
  http::ServerOptions http;
};

class Replica {
 public:
  static constexpr int64_t kMaxPendingResultBatches = 1024;

  // `clock` times the engine and the server and must outlive the replica; its time is taken to pass
  // at the real rate, since the engine thread sleeps through each step's modelled duration.
  Replica(ReplicaConfig config, const Clock& clock, std::shared_ptr<const Codec> codec,
          KvPublisher* publisher, const ReplicaDirectory* directory);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Binds the HTTP port and starts the HTTP worker and the engine thread.
  Result<void> start();
  uint16_t port() const;
  const std::string& engine_id() const { return config_.engine.engine_id; }
  // Stops accepting and drains in-flight requests; then wait() joins everything.
  void drain();
  void wait();

  // P/D: the decode side has read the blocks of `request_id` (thread-safe).
  bool submit_release(std::string request_id);

 private:
  struct Task;
  struct Delivery;
  struct Stream;
  struct Completion;

  // ---- engine thread (replica.cc) ----
  void engine_loop();
  void apply(Task& task, std::vector<Delivery>& out);
  Delivery apply_control(const ControlTask& task);
  void record(const StepInfo& info, const std::vector<TokenOutput>& outs, std::vector<Delivery>& deliveries);
  void update_gauges();
  void post_deliveries(std::vector<Delivery>& deliveries);
  void wait_for_work(std::optional<Nanos> deadline);
  void stop_engine_thread();

  // ---- any thread ----
  bool push_task(Task task);

  // ---- HTTP worker thread: the result channel (replica.cc) ----
  void dispatch(std::vector<Delivery>& batch);
  http::Awaitable<bool> next_deliveries(Stream& st, http::Responder& res, std::vector<Delivery>& out);
  uint64_t open_stream(std::shared_ptr<Stream>& st);
  void close_stream(uint64_t sid);

  // ---- HTTP worker thread: endpoints (replica_http.cc) ----
  http::Router make_router();
  http::Awaitable<void> handle_health(http::Request& req, http::Responder& res);
  http::Awaitable<void> handle_version(http::Request& req, http::Responder& res);
  http::Awaitable<void> handle_models(http::Request& req, http::Responder& res);
  http::Awaitable<void> handle_tokenize(http::Request& req, http::Responder& res);
  http::Awaitable<void> handle_detokenize(http::Request& req, http::Responder& res);
  http::Awaitable<void> handle_control(http::Request& req, http::Responder& res, ControlKind kind);
  bool model_known(std::string_view model) const;

  // ---- HTTP worker thread: /v1/completions and /v1/chat/completions (replica_completion.cc) ----
  http::Awaitable<void> handle_completion(http::Request& req, http::Responder& res, ApiKind api);
  std::optional<http::Response> refusal(const http::Request& req, const CompletionRequest& c);
  std::optional<http::Response> injected_failure(const http::Request& req, std::string_view model);
  Result<RequestSpec> make_spec(Completion& call);
  http::Awaitable<bool> submit(Completion& call, RequestSpec spec);
  http::Awaitable<bool> relay_tokens(Completion& call);
  bool take_tokens(Completion& call, std::string& piece);
  http::Awaitable<void> send_result(Completion& call);
  void abort_request(uint64_t sid);

  // ---- P/D over NixlConnector's kv_transfer_params (replica_pd.cc) ----
  static void take_remote_prefill(const vllm::KvTransferParams& kv, RequestSpec& spec);
  vllm::KvTransferParams prefill_result(const std::string& request_id, const std::vector<uint32_t>& held);
  void handle_notices(const std::vector<TransferNotice>& notices);  // engine thread
  void notify_remote_release(TransferNotice notice);
  http::Awaitable<void> handle_kv_transfer_done(http::Request& req, http::Responder& res);

  ReplicaConfig config_;
  const Clock& clock_;
  std::shared_ptr<const Codec> codec_;
  KvPublisher* publisher_;
  const ReplicaDirectory* directory_;
  Nanos ready_at_{0};

  std::unique_ptr<http::Server> server_;
  http::asio::any_io_executor worker_;

  // Engine side.
  class Sink;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ReplicaMetrics> metrics_;
  std::thread engine_thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  std::mutex wake_mu_;  // taken only to wake an idle engine thread
  std::condition_variable wake_cv_;
  struct TaskQueue;
  std::unique_ptr<TaskQueue> tasks_;
  std::atomic<uint64_t> task_queue_full_{0};
  std::atomic<int64_t> pending_batches_{0};
  std::atomic<uint64_t> result_backpressure_{0};
  struct Live {
    uint64_t sid = 0;
    std::optional<uint32_t> max_tokens;
  };
  std::unordered_map<RequestHandle, Live> live_;           // engine thread only
  std::unordered_map<uint64_t, RequestHandle> handle_of_;  // engine thread only

  // HTTP worker side.
  std::unordered_map<uint64_t, std::shared_ptr<Stream>> streams_;
  uint64_t next_sid_ = 1;
  std::map<std::string, std::string> loras_;  // name → path, as /v1/models lists them
  Rng rng_;                                   // failure injection: seeded, reproducible
  Rng id_rng_;                                // request ids
  std::unique_ptr<http::Client> client_;
  std::atomic<uint64_t> release_notify_failures_{0};
};

// The replicas of one process, for delivering P/D release notices in-process.
class ReplicaDirectory {
 public:
  void add(Replica* r) { replicas_.push_back(r); }
  Replica* find(std::string_view engine_id) const {
    for (Replica* r : replicas_) {
      if (r->engine_id() == engine_id) return r;
    }
    return nullptr;
  }

 private:
  std::vector<Replica*> replicas_;
};

}  // namespace llmd::sim
