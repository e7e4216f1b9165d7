#pragma once
// Scheduler plugin interfaces (the extension points of GIE's scheduling framework, pkg/epp/framework) and the
// values they exchange. A concrete plugin derives from Plugin and from every interface it implements (the
// approximate prefix producer is both a DataProducer and a PreRequest plugin). Plugins are created once from
// validated configuration and then shared by every request thread, so every method here must be safe
// to call concurrently: configuration is immutable, and mutable state is atomic or published by
// pointer swap.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/random.h"
#include "sched/cycle_state.h"
#include "sched/endpoint.h"
#include "sched/request.h"

namespace llmd::sched {

struct TypedName {
  std::string type;  // registered type, e.g. "queue-scorer"
  std::string name;  // instance name; defaults to the type
};

enum class ScorerCategory { kAffinity, kDistribution, kBalance };
std::string_view to_string(ScorerCategory c);

// One endpoint under consideration in a cycle. `index` is its position in SchedulingContext::candidates
// and keys the per-candidate vectors producers publish.
struct Candidate {
  uint32_t index = 0;
  const Endpoint* endpoint = nullptr;
};
using CandidateList = std::vector<Candidate>;

struct ScoredCandidate {
  Candidate candidate;
  double score = 0.0;
};

// Everything a plugin may read during one scheduling cycle. Owned by one request thread.
struct SchedulingContext {
  const LLMRequest& request;
  const EndpointSnapshot& snapshot;
  std::span<const Candidate> candidates;  // every located candidate, before any filter
  CycleState& state;
  Rng& rng;
  const Clock& clock;
};

struct ScoredEndpoint {
  EndpointPtr endpoint;
  double score = 0.0;
  // Its Candidate::index in the cycle: the key of the per-candidate data producers published.
  uint32_t candidate_index = 0;
};

// Outcome of one profile. `ok` false means a filter left no endpoint or the picker chose none.
struct ProfileRun {
  std::string profile;
  bool ok = false;
  std::vector<ScoredEndpoint> targets;  // best first; more than one when maxNumOfEndpoints > 1
  // Every candidate that passed the filters, with its weighted total, when the request asked
  // (LLMRequest::keep_scores); the endpoints live as long as the result's snapshot.
  std::vector<ScoredCandidate> scored;
  Error error;
};

struct SchedulingResult {
  std::vector<ProfileRun> profile_results;  // in run order; failed profiles have ok == false
  std::string primary_profile;
  // Headers PreRequest plugins ask the data plane to set on the upstream request.
  HeaderList request_headers;
  // Keeps candidate endpoints and per-request plugin data alive until the response hooks have run.
  SnapshotPtr snapshot;
  std::shared_ptr<CycleState> state;

  const ProfileRun* find(std::string_view profile) const;
  const ProfileRun* primary() const { return find(primary_profile); }
  // First target of the primary profile; null when there is none.
  const ScoredEndpoint* primary_target() const;
  const Endpoint* primary_endpoint() const;
};

class Plugin;
// Finds a configured plugin by instance name; null when there is none.
using PluginLookup = std::function<const Plugin*(std::string_view name)>;

class Plugin {
 public:
  explicit Plugin(TypedName typed_name) : typed_name_(std::move(typed_name)) {}
  virtual ~Plugin() = default;
  const TypedName& typed_name() const { return typed_name_; }
  // CycleState keys this plugin needs during scheduling (see data.h).
  virtual std::vector<std::string> consumes() const { return {}; }
  // Called once at start-up, after every configured plugin exists, to resolve references to other
  // plugins by name. Errors (kConfig) name the parameter, e.g. "prefixPluginName: no plugin named x".
  virtual Result<void> bind(const PluginLookup& /*lookup*/) { return {}; }

 private:
  TypedName typed_name_;
};

class Filter {
 public:
  virtual ~Filter() = default;
  // Removes endpoints from `candidates`; leaving none fails the profile.
  virtual void filter(const SchedulingContext& ctx, CandidateList& candidates) const = 0;
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual ScorerCategory category() const = 0;
  // Writes one score per candidate into `out` (same size, zero-filled). The framework clamps to [0,1].
  virtual void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                     std::span<double> out) const = 0;
};

class Picker {
 public:
  virtual ~Picker() = default;
  // Chooses targets from `scored` (which it may reorder) into `out`, best first.
  virtual void pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
                    std::vector<ScoredCandidate>& out) const = 0;
};

class ProfileHandler {
 public:
  virtual ~ProfileHandler() = default;
  // Start-up check of the configured profile names (kConfig on a mismatch).
  virtual Result<void> check_profiles(std::span<const std::string> /*profiles*/) const { return {}; }
  // Profiles to run next given the results so far; empty ends the loop.
  virtual std::vector<std::string> pick(const SchedulingContext& ctx, std::span<const std::string> profiles,
                                        std::span<const ProfileRun> results) const = 0;
  // Sets result.primary_profile or fails the request.
  virtual Result<void> process_results(const SchedulingContext& ctx, SchedulingResult& result) const = 0;
};

class DataProducer {
 public:
  virtual ~DataProducer() = default;
  // CycleState keys written by produce().
  virtual std::vector<std::string> produces() const = 0;
  // Runs before the profiles. Failures are the producer's to log and count; the cycle goes on.
  virtual void produce(SchedulingContext& ctx) const = 0;
};

class PreRequest {
 public:
  virtual ~PreRequest() = default;
  // Runs after a successful decision, before the request is forwarded.
  virtual void pre_request(const SchedulingContext& ctx, SchedulingResult& result) const = 0;
};

enum class TerminationCause { kNatural, kEvicted, kClientDisconnect, kError };

struct ResponseChunk {
  bool first = false;  // the first streamed chunk: prefill is done
  size_t bytes = 0;
};

struct ResponseCompletion {
  TerminationCause cause = TerminationCause::kNatural;
  int64_t prompt_tokens = -1;  // from usage when the response carried it
  int64_t completion_tokens = -1;
};

// Response phases (ResponseReceived / ResponseStreaming / ResponseComplete). The data plane calls
// complete exactly once per scheduled request, also on errors and disconnects, so counters are released.
class ResponseHooks {
 public:
  virtual ~ResponseHooks() = default;
  virtual void on_response_received(const LLMRequest& /*request*/, const SchedulingResult& /*result*/,
                                    HeaderList& /*response_headers*/) const {}
  virtual void on_response_streaming(const LLMRequest& /*request*/, const SchedulingResult& /*result*/,
                                     const ResponseChunk& /*chunk*/) const {}
  virtual void on_response_complete(const LLMRequest& /*request*/, const SchedulingResult& /*result*/,
                                    const ResponseCompletion& /*completion*/) const {}
};

}  // namespace llmd::sched
