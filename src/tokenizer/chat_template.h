#pragma once
// Chat templates from tokenizer_config.json, rendered the way transformers' apply_chat_template
// renders them (which is what vLLM does): a sandboxed Jinja environment with trim_blocks and
// lstrip_blocks, the loop-controls extension, transformers' tojson, and the globals
// raise_exception and strftime_now. The context holds messages, tools, documents,
// add_generation_prompt, the special tokens (bos_token, eos_token, ...) and any extra kwargs.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "jinja/template.h"

namespace llmd::tokenizer {

struct ChatRenderOptions {
  bool add_generation_prompt = false;
  // The tool schemas (a JSON array); absent means tools=None.
  std::optional<boost::json::array> tools;
  // RAG documents (a JSON array); absent means documents=None.
  std::optional<boost::json::array> documents;
  // chat_template_kwargs, e.g. {"enable_thinking": false}. They override the defaults above.
  boost::json::object kwargs;
  // The time strftime_now formats (local time); when absent, `clock`'s wall time.
  std::optional<int64_t> now_unix_seconds;
  const Clock* clock = &SystemClock::instance();
};

class ChatTemplate {
 public:
  // Reads tokenizer_config.json. `name` picks one of several named templates ("default" when
  // the file holds a list).
  static Result<ChatTemplate> from_config_file(const std::string& path, std::string_view name = "default");
  static Result<ChatTemplate> from_config_json(std::string_view json_text, std::string_view name = "default");
  // A template source with the special tokens given as a JSON object ({"bos_token": "<s>", ...}).
  static Result<ChatTemplate> from_source(std::string_view source, const boost::json::object& special_tokens);

  // Renders `messages` (a JSON array of {role, content, ...}; content may be a string or a list
  // of parts). Errors from raise_exception carry the template's message.
  Result<std::string> render(const boost::json::array& messages, const ChatRenderOptions& options) const;

  const std::string& source() const { return source_; }
  // The special token strings the template sees (bos_token, eos_token, ...); empty when unset.
  std::string special_token(std::string_view name) const;
  // All of them as a JSON object, as they enter the template's context.
  boost::json::object special_tokens_json() const;

 private:
  jinja::Template template_;
  std::string source_;
  jinja::Value::Dict special_tokens_;
};

}  // namespace llmd::tokenizer
