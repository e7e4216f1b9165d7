#pragma once
// session-affinity-scorer, strategy encoded_endpoint_header (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/sessionaffinity): the request header x-session-token carries
// the standard base64 of an endpoint id; that endpoint scores 1, the others 0. On the response the plugin
// sets the same header to the endpoint that served it, so a client that echoes it back stays on that
// endpoint. With `profileName` set the header becomes x-session-token-<profileName> and tracks that profile's
// endpoint (e.g. the prefill pod).

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kSessionAffinityScorerType = "session-affinity-scorer";
inline constexpr std::string_view kSessionTokenHeader = "x-session-token";

struct SessionAffinityParams {
  std::string profile_name;  // empty: the primary profile
};
void decode(config::MapReader& m, SessionAffinityParams& p);

std::string base64_encode(std::string_view in);
// False on malformed input (bad characters or length, misplaced padding).
bool base64_decode(std::string_view in, std::string& out);

class SessionAffinityScorer final : public Plugin, public Scorer, public ResponseHooks {
 public:
  SessionAffinityScorer(TypedName tn, SessionAffinityParams params, const PluginArgs& = {});
  ScorerCategory category() const override { return ScorerCategory::kAffinity; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
  void on_response_received(const LLMRequest& request, const SchedulingResult& result,
                            HeaderList& response_headers) const override;
  const std::string& header_name() const { return header_; }

 private:
  SessionAffinityParams params_;
  std::string header_;
};

Result<std::shared_ptr<Plugin>> create_session_affinity_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
