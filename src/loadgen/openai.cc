#include "loadgen/openai.h"

#include <limits>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

namespace llmd::loadgen {

namespace json = boost::json;

std::string render_body(const Prompt& prompt, const RequestOptions& options) {
  json::object body;
  body["model"] = options.model;
  if (options.api == ApiKind::kChatCompletions) {
    json::array messages;
    for (const auto& m : prompt.messages) {
      messages.push_back(json::object{{"role", m.role}, {"content", m.content}});
    }
    body["messages"] = std::move(messages);
  } else {
    body["prompt"] = prompt.text();
  }
  body["max_tokens"] = prompt.max_tokens;
  if (options.ignore_eos) body["ignore_eos"] = true;
  body["stream"] = options.stream;
  if (options.stream) body["stream_options"] = json::object{{"include_usage", true}};
  return json::serialize(body);
}

ChunkParser::ChunkParser() : parser_(json::storage_ptr(), json::parse_options(), temp_, sizeof temp_) {}

namespace {

uint32_t to_u32(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_uint64()) return static_cast<uint32_t>(std::min<uint64_t>(v->as_uint64(), UINT32_MAX));
  if (v->is_int64() && v->as_int64() > 0) {
    return static_cast<uint32_t>(std::min<int64_t>(v->as_int64(), UINT32_MAX));
  }
  if (v->is_double() && v->as_double() > 0) {
    return static_cast<uint32_t>(std::min<double>(v->as_double(), UINT32_MAX));
  }
  return 0;
}

bool non_empty_string(const json::value* v) {
  return v != nullptr && v->is_string() && !v->as_string().empty();
}

}  // namespace

Result<ChunkInfo> ChunkParser::parse(std::string_view payload) {
  ChunkInfo info;
  // Trim the whitespace SSE data may carry.
  while (!payload.empty() && (payload.front() == ' ' || payload.front() == '\n' || payload.front() == '\r')) {
    payload.remove_prefix(1);
  }
  while (!payload.empty() && (payload.back() == ' ' || payload.back() == '\n' || payload.back() == '\r')) {
    payload.remove_suffix(1);
  }
  if (payload == "[DONE]") {
    info.done = true;
    return info;
  }
  json::monotonic_resource mr(values_, sizeof values_);
  parser_.reset(&mr);
  boost::system::error_code ec;
  // parser::write parses one complete value and rejects trailing bytes.
  parser_.write(payload.data(), payload.size(), ec);
  if (ec) {
    parser_.reset();
    return make_error(ErrorCode::kProtocol, fmt::format("bad JSON chunk: {}", ec.message()));
  }
  const json::value root = parser_.release();
  if (!root.is_object()) return make_error(ErrorCode::kProtocol, "chunk is not a JSON object");
  const auto& obj = root.get_object();
  if (const auto* err = obj.if_contains("error")) {
    info.is_error = true;
    const json::value* msg = err->is_object() ? err->get_object().if_contains("message") : nullptr;
    info.error_message = (msg && msg->is_string()) ? std::string(msg->get_string()) : "error event";
    return info;
  }
  if (const auto* choices = obj.if_contains("choices"); choices && choices->is_array()) {
    for (const auto& c : choices->get_array()) {
      if (!c.is_object()) continue;
      const auto& co = c.get_object();
      if (non_empty_string(co.if_contains("text"))) info.has_content = true;
      for (const char* key : {"delta", "message"}) {
        const auto* d = co.if_contains(key);
        if (d && d->is_object()) {
          const auto& dobj = d->get_object();
          if (non_empty_string(dobj.if_contains("content")) ||
              non_empty_string(dobj.if_contains("reasoning_content"))) {
            info.has_content = true;
          }
        }
      }
      if (const auto* fr = co.if_contains("finish_reason"); fr && !fr->is_null()) info.finished = true;
    }
  }
  if (const auto* usage = obj.if_contains("usage"); usage && usage->is_object()) {
    const auto& u = usage->get_object();
    info.has_usage = true;
    info.prompt_tokens = to_u32(u.if_contains("prompt_tokens"));
    info.completion_tokens = to_u32(u.if_contains("completion_tokens"));
    if (const auto* d = u.if_contains("prompt_tokens_details"); d && d->is_object()) {
      info.cached_tokens = to_u32(d->get_object().if_contains("cached_tokens"));
    }
  }
  return info;
}

}  // namespace llmd::loadgen
