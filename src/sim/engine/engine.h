#pragma once
// One simulated vLLM engine with v1 scheduler semantics, as a pure library: no threads, no I/O and
// no wall-clock reads (time comes from the injected Clock), so the server drives it on a real clock
// and a cluster simulator can drive many in virtual time:
//
//   while (engine.has_work()) {
//     StepInfo s = engine.begin_step();   // schedule a batch; s.duration from the profile
//     clock.advance(s.duration);          // or sleep until then
//     engine.end_step(outputs);           // tokens out, finished requests, KV events published
//   }
//
// Scheduling per step (vLLM v1): running requests first, in order, each taking min(remaining,
// budget) tokens of the --max-num-batched-tokens budget (chunked prefill); if KV blocks run out the
// newest running request is preempted (recompute: blocks freed, progress reset, back to the front
// of the waiting queue). Then, if nothing was preempted, waiting requests in FCFS order while the
// budget, --max-num-seqs, LoRA slots and free blocks allow, each after a prefix-cache lookup over
// its full blocks' chained hashes (capped at prompt length - 1). A request whose computed tokens
// reach its length samples one token. All other calls must happen between end_step and begin_step.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/random.h"
#include "kvevents/block_hash.h"
#include "kvevents/events.h"
#include "sim/engine/kv_cache.h"
#include "sim/engine/profile.h"

namespace llmd::sim {

enum class FinishReason : uint8_t { kStop, kLength, kAbort };
std::string_view to_string(FinishReason r);

struct EngineConfig {
  std::string engine_id = "llmd-sim";  // P/D remote_engine_id
  uint32_t max_num_batched_tokens = 8192;
  uint32_t max_num_seqs = 256;
  uint32_t block_size = 16;
  uint32_t num_gpu_blocks = 0;           // 0: profile kv_cache_tokens / block_size, plus the null block
  uint32_t max_model_len = 0;            // 0: the profile's
  uint32_t max_loras = 1;                // distinct adapters in one batch
  uint32_t max_waiting = 100'000;        // waiting-queue bound (add_request fails beyond it)
  std::optional<std::string> hash_seed;  // PYTHONHASHSEED; nullopt draws NONE_HASH from the rng
  Nanos kv_transfer_timeout = std::chrono::seconds(480);  // VLLM_NIXL_ABORT_REQUEST_TIMEOUT
  uint64_t seed = 0;      // output lengths and (without a hash seed) NONE_HASH
  bool kv_events = true;  // build KV events for the sink
  // The generated text, token by token (cycled); empty: the pseudo-tokenizer's filler_tokens().
  std::vector<uint32_t> output_tokens;
};

// The decode leg's view of the prefill replica, from kv_transfer_params.
struct RemotePrefill {
  std::string engine_id;
  std::string request_id;
  std::string host;
  uint16_t port = 0;
};

struct RequestSpec {
  std::string request_id;
  std::vector<uint32_t> prompt;
  // nullopt: up to max_model_len, length sampled. 64 bits: a value beyond any context is refused
  // naming the value the client sent.
  std::optional<uint64_t> max_tokens;
  bool ignore_eos = false;  // run to max_tokens exactly
  std::string lora;         // adapter name; empty for the base model
  std::optional<std::string> cache_salt;
  bool do_remote_decode = false;   // P/D prefill leg: prefill only, then hold the blocks
  bool do_remote_prefill = false;  // P/D decode leg: the prompt's KV arrives by transfer
  RemotePrefill remote;            // decode leg only
  std::optional<Nanos> arrival;    // when the request reached the server (default: now)
};

using RequestHandle = uint64_t;

struct RequestTimes {
  Nanos arrival{0};
  Nanos scheduled{0};  // first scheduled
  Nanos first_token{0};
  Nanos finished{0};
};

// One event for one request: a new token, and/or its end.
struct TokenOutput {
  RequestHandle handle = 0;
  std::optional<uint32_t> token;
  uint32_t num_output_tokens = 0;  // including this one
  uint32_t prompt_tokens = 0;
  uint32_t cached_tokens = 0;    // prompt tokens found computed when first scheduled
  Nanos time{0};                 // when this token was produced
  Nanos previous_token_time{0};  // for the inter-token latency; 0 for the first token
  bool finished = false;
  FinishReason reason = FinishReason::kStop;
  RequestTimes times;                 // so far; complete when finished
  std::vector<uint32_t> held_blocks;  // P/D prefill leg: blocks held for the decode side
};

// The decode leg finished pulling KV from `remote`; the prefill side may free its blocks.
struct TransferNotice {
  RemotePrefill remote;
};

struct StepInfo {
  Nanos duration{0};
  BatchShape shape;
  uint32_t num_scheduled = 0;  // requests in the batch; 0 means nothing could run
  uint32_t num_tokens = 0;     // tokens computed
};

struct EngineCounters {
  uint64_t prefix_cache_queries = 0;  // tokens
  uint64_t prefix_cache_hits = 0;     // tokens
  uint64_t prompt_tokens = 0;         // of requests that produced their first token
  uint64_t generation_tokens = 0;
  uint64_t preemptions = 0;
  uint64_t waiting_full = 0;   // add_request refused: waiting queue at its bound
  uint64_t held_timeouts = 0;  // P/D blocks freed by timeout rather than by the decode side
};

struct EngineSnapshot {
  uint32_t running = 0;
  uint32_t waiting = 0;
  double kv_cache_usage = 0;
  EngineCounters counters;
  std::vector<std::string> running_loras;
  std::vector<std::string> waiting_loras;
};

// Receives one batch of KV events per engine step that produced any (as vLLM publishes them).
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void publish(kvevents::EventBatch batch) = 0;
};

class Engine {
 public:
  Engine(EngineConfig config, Profile profile, const Clock& clock, EventSink* sink = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The configuration with profile-derived values resolved.
  const EngineConfig& config() const { return config_; }
  const Profile& profile() const { return profile_; }
  const kvevents::BlockHasher& hasher() const { return hasher_; }

  // Errors: kInvalidArgument (empty prompt, prompt + max_tokens over max_model_len, unknown LoRA;
  // the message is vLLM's), kResourceExhausted (waiting queue full).
  Result<RequestHandle> add_request(RequestSpec spec);
  // Drops a request wherever it is; its blocks are freed. False if unknown or already finished.
  bool abort(RequestHandle handle);
  // P/D prefill side: the decode side has read the blocks of `request_id`. False if not held.
  bool release_held(std::string_view request_id);
  // Forgets every cached block (AllBlocksCleared). Fails while any block is in use.
  bool reset_prefix_cache();

  Result<void> load_lora(const std::string& name);
  Result<void> unload_lora(const std::string& name);
  bool has_lora(const std::string& name) const { return loras_.contains(name); }
  std::vector<std::string> loras() const;

  // Requests that may be scheduled (waiting or running).
  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  // The earliest pending timer (a KV transfer landing, a held block timing out), if any.
  std::optional<Nanos> next_timer() const;
  // Fires due timers; may hand out transfer notices.
  void run_timers(std::vector<TransferNotice>& notices);

  StepInfo begin_step();
  void end_step(std::vector<TokenOutput>& out);

  EngineSnapshot snapshot() const;
  const EngineCounters& counters() const { return counters_; }
  const BlockPool& block_pool() const { return pool_; }
  // Block table of a live request (tests).
  const std::vector<uint32_t>* blocks_of(RequestHandle handle) const;
  uint32_t num_computed(RequestHandle handle) const;

 private:
  struct Req;
  struct Scheduled {
    Req* req;
    uint32_t num_new;
  };

  uint32_t sample_output_length(const RequestSpec& spec, uint32_t limit, bool explicit_max);
  const std::vector<kvevents::ExtraKey>* extra_keys_for(const Req& r, size_t block) const;
  void ensure_hashes(Req& r, size_t num_blocks);
  // Prefix-cache lookup: the cached blocks of r's first full blocks (at most tokens - 1 tokens).
  void find_cached_prefix(Req& r, std::vector<uint32_t>& hits);
  // Grows r's block table to hold num_computed + num_new tokens (taking `hits` first) and caches
  // its newly full blocks. False, changing nothing, when not enough blocks are free.
  bool allocate_slots(Req& r, uint32_t num_new, const std::vector<uint32_t>& hits, bool cache_blocks = true);
  void cache_full_blocks(Req& r, size_t upto_tokens);
  void free_blocks(Req& r);
  void preempt(Req& r);
  void finish(Req& r, FinishReason reason, TokenOutput& out);
  void erase(Req& r);
  void flush_events();
  std::optional<int64_t> lora_id(const std::string& name) const;

  EngineConfig config_;
  Profile profile_;
  const Clock& clock_;
  EventSink* sink_;
  Rng rng_;
  kvevents::BlockHasher hasher_;
  BlockPool pool_;

  RequestHandle next_handle_ = 1;
  std::unordered_map<RequestHandle, std::unique_ptr<Req>> requests_;
  std::deque<Req*> waiting_;
  std::vector<Req*> running_;
  std::vector<Req*> remote_;                    // decode legs whose KV is in flight
  std::unordered_map<std::string, Req*> held_;  // P/D prefill legs by request id
  std::vector<Scheduled> scheduled_;
  Nanos step_start_{0};

  std::map<std::string, int64_t> loras_;
  int64_t next_lora_id_ = 1;

  EngineCounters counters_;
  std::vector<kvevents::Event> events_;
  std::vector<kvevents::Digest> evicted_;  // scratch
  std::vector<uint32_t> hits_;             // scratch
};

}  // namespace llmd::sim
