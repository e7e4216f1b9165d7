#include "sched/plugins/token-producer/token_producer.h"

#include <string>

#include <xxhash.h>

namespace llmd::sched::plugins {
namespace {

void pad4(std::string& bytes) {
  while (bytes.size() % 4 != 0) bytes.push_back('\0');
}

void append_le32(std::string& bytes, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

void decode(config::MapReader& m, TokenProducerParams& p) {
  std::string backend;
  if (!m.read("backend", backend)) return;
  if (backend == "estimate") {
    p.backend = TokenizerBackend::kEstimate;
  } else if (backend == "vllm") {
    m.error("backend", "the vllm render backend is not supported by this build; use estimate");
  } else {
    m.error("backend", "unknown value \"" + backend + "\"; expected one of: estimate");
  }
}

void estimate_tokens(const LLMRequest& request, TokenizedPrompt& out) {
  out.owned.clear();
  switch (request.kind) {
    case ApiKind::kCompletions:
      out.bytes = request.prompt;
      return;
    case ApiKind::kOther:
      out.bytes = request.body_json;
      return;
    case ApiKind::kChatCompletions:
      break;
  }
  std::string& bytes = out.owned;
  bytes = request.tools_json;
  for (const auto& msg : request.messages) {
    bytes += msg.role;
    for (const auto& part : msg.content) {
      if (part.kind == ContentPart::Kind::kText) {
        bytes += part.data;
      } else {
        pad4(bytes);
        append_le32(bytes, static_cast<uint32_t>(XXH64(part.data.data(), part.data.size(), 0)));
      }
    }
  }
  out.bytes = out.owned;
}

void TokenProducer::produce(SchedulingContext& ctx) const {
  auto tp = std::make_shared<TokenizedPrompt>();
  estimate_tokens(ctx.request, *tp);
  ctx.state.put(std::string(kTokenizedPromptKey), std::move(tp));
}

Result<std::shared_ptr<Plugin>> create_token_producer(const PluginArgs& args) {
  return make_plugin<TokenProducer, TokenProducerParams>(args);
}

}  // namespace llmd::sched::plugins
