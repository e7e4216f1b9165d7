#pragma once
// token-producer: publishes the request's TokenizedPrompt. Only the `estimate` backend is built: the
// prompt bytes read as little-endian uint32 pseudo-tokens, 4 bytes each (llm-d-router
// pkg/epp/framework/plugins/requestcontrol/dataproducer/tokenizer/estimate.go).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/data.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kTokenProducerType = "token-producer";
inline constexpr std::string_view kTokenProducerAlias = "tokenizer";

enum class TokenizerBackend { kEstimate };

struct TokenProducerParams {
  TokenizerBackend backend = TokenizerBackend::kEstimate;
};
void decode(config::MapReader& m, TokenProducerParams& p);

// The estimate backend. Completions: the prompt. Chat: the `tools` JSON, then per message the role
// followed by its text parts; each media part becomes one pseudo-token, the little-endian low 32 bits
// of xxhash64(payload), written at a 4-byte boundary. Other bodies: the body JSON. The byte string is
// zero-padded to a multiple of 4. Completions and other bodies are viewed in place, not copied.
void estimate_tokens(const LLMRequest& request, TokenizedPrompt& out);

class TokenProducer final : public Plugin, public DataProducer {
 public:
  TokenProducer(TypedName tn, TokenProducerParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  std::vector<std::string> produces() const override { return {std::string(kTokenizedPromptKey)}; }
  void produce(SchedulingContext& ctx) const override;

 private:
  TokenProducerParams params_;
};

Result<std::shared_ptr<Plugin>> create_token_producer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
