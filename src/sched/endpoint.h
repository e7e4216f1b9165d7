#pragma once
// Endpoints the scheduler chooses among, and the store that publishes them. One endpoint is one
// (pod, target port) pair with id `namespace/<pod>-rank-<port index>` (llm-d's naming of data-parallel
// ranks). The store publishes immutable snapshots (SnapshotSlot): the request path loads one snapshot per
// decision and never takes a lock; discovery and scrapers (control plane) build new snapshots.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "sched/snapshot_slot.h"

namespace llmd::sched {

using Labels = std::map<std::string, std::string, std::less<>>;

// Pod label carrying the P/D role (prefill, decode, both, ...), as llm-d's by-label filters read it.
inline constexpr std::string_view kRoleLabel = "llm-d.ai/role";

// Attributes scraped from a model server's /metrics (llm-d's datalayer attributes), in engine-neutral form.
struct EndpointMetrics {
  int64_t waiting_queue_size = 0;     // vllm:num_requests_waiting
  int64_t running_requests_size = 0;  // vllm:num_requests_running
  double kv_cache_usage = 0.0;        // vllm:kv_cache_usage_perc, a fraction in [0,1]
  // vllm:lora_requests_info (newest series).
  std::vector<std::string> active_models;
  std::vector<std::string> waiting_models;
  int64_t max_active_models = 0;
  // vllm:cache_config_info; 0 when unknown.
  int64_t cache_block_size = 0;
  int64_t cache_num_gpu_blocks = 0;
  // When these values were extracted (Clock::now()); zero means never scraped.
  Nanos update_time{0};
};

struct EndpointSpec {
  std::string id;  // namespace/<pod>-rank-<N>
  std::string address;
  uint16_t port = 0;
  Labels labels;
};

// `namespace/<pod>-rank-<rank>`.
std::string make_endpoint_id(std::string_view ns, std::string_view pod, int rank);

// An endpoint as seen in one snapshot. Immutable once published.
struct Endpoint {
  // Unique for the store's lifetime; kept across metric updates, new when an id is removed and re-added.
  // Plugins key per-endpoint state by it.
  uint64_t uid = 0;
  std::string id;
  std::string address;
  uint16_t port = 0;
  std::string host_port;  // "address:port" ("[v6]:port" for IPv6)
  Labels labels;
  std::shared_ptr<const EndpointMetrics> metrics;  // never null

  // Empty view when the label is absent; use has_label() to tell absent from empty.
  std::string_view label(std::string_view key) const;
  bool has_label(std::string_view key) const { return labels.find(key) != labels.end(); }
};

using EndpointPtr = std::shared_ptr<const Endpoint>;

struct EndpointSnapshot {
  uint64_t version = 0;
  std::vector<EndpointPtr> endpoints;  // sorted by id

  const Endpoint* find(std::string_view id) const;
  const Endpoint* find_uid(uint64_t uid) const;  // linear; for tests and control-plane use
};

using SnapshotPtr = std::shared_ptr<const EndpointSnapshot>;

class EndpointStore {
 public:
  EndpointStore();
  EndpointStore(const EndpointStore&) = delete;
  EndpointStore& operator=(const EndpointStore&) = delete;

  // Lock-free; what the request path calls once per decision.
  SnapshotPtr snapshot() const { return snapshot_.load(); }

  // Control plane. Writers are serialized among themselves; readers never wait for them.
  // Adds or replaces one endpoint (metrics are kept when the id already exists).
  Result<void> upsert(EndpointSpec spec);
  // Returns false when the id is unknown.
  bool remove(std::string_view id);
  // Replaces the whole set (discovery reload); metrics and uids of surviving ids are kept.
  Result<void> replace_all(std::vector<EndpointSpec> specs);
  // Publishes a new metrics snapshot for one endpoint. Returns false when the id is unknown.
  bool update_metrics(std::string_view id, EndpointMetrics metrics);

 private:
  static Result<void> validate(const EndpointSpec& spec);
  EndpointPtr make(EndpointSpec spec, uint64_t uid, std::shared_ptr<const EndpointMetrics> metrics);
  void publish(std::vector<EndpointPtr> endpoints, bool sorted = false);  // requires writer_mu_

  std::mutex writer_mu_;  // control plane only
  uint64_t next_uid_ = 1;
  uint64_t version_ = 0;
  SnapshotSlot<const EndpointSnapshot> snapshot_;
};

}  // namespace llmd::sched
