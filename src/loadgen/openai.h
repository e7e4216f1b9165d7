#pragma once
// The OpenAI wire format as the load generator speaks it: request bodies for /v1/completions and
// /v1/chat/completions, and the parser for response chunks (streamed SSE data payloads or whole
// non-streamed bodies) that extracts what the measurements need.

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>

#include "common/error.h"
#include "loadgen/workload.h"
#include "vllm/api.h"

namespace llmd::loadgen {

using vllm::ApiKind;

struct RequestOptions {
  ApiKind api = ApiKind::kCompletions;
  std::string model;
  bool stream = true;
  bool ignore_eos = true;  // vLLM extension: generate exactly max_tokens
};

// The JSON body for one prompt. Streaming requests ask for stream_options.include_usage so the final
// chunk carries token counts, including usage.prompt_tokens_details.cached_tokens.
std::string render_body(const Prompt& prompt, const RequestOptions& options);

// What one response chunk (or a whole non-streamed response) says.
struct ChunkInfo {
  bool done = false;         // the "[DONE]" sentinel
  bool has_content = false;  // it carried generated text (choices[].text or .delta/.message content)
  bool finished = false;     // a choice carried a non-null finish_reason
  bool has_usage = false;
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  uint32_t cached_tokens = 0;
  bool is_error = false;  // an {"error": ...} object
  std::string error_message;
};

// Parses payloads with one reusable boost::json parser and a fixed scratch buffer, so steady-state
// parsing of ordinary chunks does not touch the heap. Not thread-safe; one per runner thread.
class ChunkParser {
 public:
  ChunkParser();
  // Errors: kProtocol when the payload is not a JSON object.
  Result<ChunkInfo> parse(std::string_view payload);

 private:
  unsigned char temp_[4096];
  unsigned char values_[16384];
  boost::json::parser parser_;
};

}  // namespace llmd::loadgen
