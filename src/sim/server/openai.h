#pragma once
// The simulator's OpenAI/vLLM wire formats: parsing /v1/completions and /v1/chat/completions
// request bodies (with vLLM's extras: ignore_eos, cache_salt, kv_transfer_params), and rendering
// responses, SSE chunks and usage exactly in vLLM's shapes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sim/engine/tokenizer.h"
#include "vllm/api.h"
#include "vllm/kv_transfer_params.h"

namespace llmd::sim {

using vllm::ApiKind;

struct CompletionRequest {
  ApiKind api = ApiKind::kCompletions;
  std::string model;
  // Exactly one of: text (a completion prompt or rendered chat), or token ids.
  std::string prompt_text;
  std::optional<std::vector<uint32_t>> prompt_tokens;
  std::optional<uint64_t> max_tokens;  // as sent (at least 1); the engine refuses what exceeds the context
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;
  bool ignore_eos = false;
  std::optional<std::string> cache_salt;
  std::optional<vllm::KvTransferParams> kv_transfer_params;
};

// Errors name the field (`messages[1].content: expected string or array, got number`).
Result<CompletionRequest> parse_completion_request(std::string_view body, ApiKind api);

// What a finished (or streaming) response reports.
struct Usage {
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  uint32_t cached_tokens = 0;
};

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

// Whole (non-streamed) responses.
std::string render_response(ApiKind api, std::string_view id, int64_t created, std::string_view model,
                            std::string_view text, std::string_view finish_reason, const Usage& usage,
                            const std::optional<vllm::KvTransferParams>& kv);

// SSE chunk payloads (without "data: "). `finish_reason` empty means null. `usage` non-null adds a
// usage object (continuous_usage_stats).
std::string render_role_chunk(std::string_view id, int64_t created, std::string_view model);
std::string render_delta_chunk(ApiKind api, std::string_view id, int64_t created, std::string_view model,
                               std::string_view text, std::string_view finish_reason, const Usage* usage);
std::string render_usage_chunk(ApiKind api, std::string_view id, int64_t created, std::string_view model,
                               const Usage& usage);

}  // namespace llmd::sim
