#pragma once
// The request as the scheduler sees it: what a data plane (the gateway, the ext_proc EPP) has parsed
// from an OpenAI-style body plus the headers (GIE's LLMRequest). Plugins never see raw JSON.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vllm/api.h"

namespace llmd::sched {

// Header names keep the case they came with (set_header lower-cases); lookups are case-insensitive.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

std::string_view find_header(const HeaderList& headers, std::string_view name);
// Replaces every entry named `name` (case-insensitive) with one `name: value`.
void set_header(HeaderList& headers, std::string_view name, std::string value);

using vllm::ApiKind;

// One part of a chat message's content. Media parts (image_url, input_audio, video_url) carry their
// payload (URL or base64 data) in `data`.
struct ContentPart {
  enum class Kind { kText, kMedia };
  Kind kind = Kind::kText;
  std::string data;
};

struct ChatMessage {
  std::string role;
  std::vector<ContentPart> content;
};

struct LLMRequest {
  std::string request_id;    // x-request-id
  std::string model;         // as sent by the client
  std::string target_model;  // after rewrite; empty means `model`
  ApiKind kind = ApiKind::kCompletions;
  std::string prompt;                 // completions
  std::vector<ChatMessage> messages;  // chat completions
  std::string tools_json;             // chat: the `tools` array as JSON text, empty when absent
  std::string body_json;              // kOther: the body, hashed whole by the estimate tokenizer
  HeaderList headers;
  int priority = 0;              // from the InferenceObjective; 0 by default
  int64_t estimated_tokens = 0;  // parser's prompt-token estimate; 0 when unknown
  int64_t max_tokens = -1;       // client's max_tokens / max_completion_tokens; -1 when absent
  std::string cache_salt;        // vLLM cache_salt; part of the prefix-hash seed
  // Keep every candidate's total score in ProfileRun::scored (llm-d's --emit-endpoint-scores).
  bool keep_scores = false;

  const std::string& effective_model() const { return target_model.empty() ? model : target_model; }
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
  // Back to a default request, keeping the capacity of its strings and vectors (for reuse).
  void clear();
};

}  // namespace llmd::sched
