#pragma once
// The OpenAI-compatible APIs vLLM serves that llmd understands, shared by the simulator, the load
// generator and every data plane, so that one enum names them everywhere.

#include <string_view>

#include "common/error.h"

namespace llmd::vllm {

enum class ApiKind {
  kCompletions,      // POST /v1/completions
  kChatCompletions,  // POST /v1/chat/completions
  kOther,            // any other inference body; schedulers hash it whole
};

// "completions", "chat" or "other" (the load generator's `api` setting uses the first two).
std::string_view to_string(ApiKind api);
// "completions" (or "completion") and "chat"; kConfig otherwise.
Result<ApiKind> parse_api_kind(std::string_view name);
// "/v1/completions" or "/v1/chat/completions"; empty for kOther.
std::string_view api_path(ApiKind api);

}  // namespace llmd::vllm
