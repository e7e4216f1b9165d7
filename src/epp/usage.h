#pragma once
// usage.prompt_tokens / usage.completion_tokens of an OpenAI response object, for the response
// hooks. A scan after the last "usage" key rather than a parse of the whole response: the hooks need
// two integers, and vLLM always writes them in that object (no other object carries those keys).

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sched/plugin.h"

namespace llmd::epp {

// The integer after `"<key>":` (JSON whitespace allowed) in `text`, if any.
inline std::optional<int64_t> int_after_key(std::string_view text, std::string_view quoted_key) {
  size_t at = text.find(quoted_key);
  if (at == std::string_view::npos) return std::nullopt;
  at += quoted_key.size();
  while (at < text.size() && (text[at] == ' ' || text[at] == ':' || text[at] == '\n' || text[at] == '\t'))
    ++at;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data() + at, text.data() + text.size(), v);
  if (ec != std::errc() || p == text.data() + at) return std::nullopt;
  return v;
}

inline void read_usage(std::string_view json_text, sched::ResponseCompletion& c) {
  const size_t at = json_text.rfind("\"usage\"");
  if (at == std::string_view::npos) return;
  const std::string_view usage = json_text.substr(at);
  if (auto v = int_after_key(usage, "\"prompt_tokens\""); v && *v >= 0) c.prompt_tokens = *v;
  if (auto v = int_after_key(usage, "\"completion_tokens\""); v && *v >= 0) c.completion_tokens = *v;
}

}  // namespace llmd::epp
