#include "sim/server/openai.h"

#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "json/json.h"

namespace llmd::sim {

namespace bj = boost::json;

namespace {

constexpr uint64_t kMaxTokenId = 0xffffffffull;

// Reads a token-id array; false after recording an error.
bool read_token_array(json::ArrayReader& arr, std::vector<uint32_t>& out) {
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    auto v = arr.integer(i);
    if (!v) return false;
    if (*v < 0 || static_cast<uint64_t>(*v) > kMaxTokenId) {
      arr.fail(i, fmt::format("token id {} is out of range [0, {}]", *v, kMaxTokenId));
      return false;
    }
    out.push_back(static_cast<uint32_t>(*v));
  }
  return true;
}

void parse_prompt(json::ObjectReader& body, CompletionRequest& req) {
  const bj::value* p = body.find("prompt");
  if (p == nullptr || p->is_null()) {
    body.fail("prompt", "field required");
    return;
  }
  if (p->is_string()) {
    req.prompt_text = std::string(p->get_string());
    return;
  }
  if (!p->is_array()) {
    body.fail_type("prompt", "string or array");
    return;
  }
  json::ArrayReader arr = body.required_array("prompt");
  const auto& a = p->get_array();
  if (a.empty()) {
    body.fail("prompt", "must not be empty");
    return;
  }
  if (a[0].is_string() || a[0].is_array()) {
    // A list of prompts (strings or token lists): the simulator serves n=1, one prompt per request.
    if (a.size() != 1) {
      body.fail("prompt", "batched prompts are not supported; send one prompt per request");
      return;
    }
    if (a[0].is_string()) {
      req.prompt_text = std::string(a[0].get_string());
      return;
    }
    json::ArrayReader inner = arr.array(0);
    std::vector<uint32_t> toks;
    if (inner && read_token_array(inner, toks)) req.prompt_tokens = std::move(toks);
    return;
  }
  std::vector<uint32_t> toks;
  if (read_token_array(arr, toks)) req.prompt_tokens = std::move(toks);
}

void parse_messages(json::ObjectReader& body, CompletionRequest& req) {
  json::ArrayReader msgs = body.required_array("messages");
  if (!msgs) return;
  if (msgs.size() == 0) {
    body.fail("messages", "must not be empty");
    return;
  }
  std::vector<ChatMessage> out;
  out.reserve(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    json::ObjectReader m = msgs.object(i);
    if (!m) return;
    ChatMessage cm;
    cm.role = std::string(m.required_string("role"));
    const bj::value* c = m.find("content");
    if (c == nullptr || c->is_null()) {
      // Assistant turns with tool calls may omit content.
    } else if (c->is_string()) {
      cm.content = std::string(c->get_string());
    } else if (c->is_array()) {
      json::ArrayReader parts = m.required_array("content");
      for (size_t j = 0; j < parts.size(); ++j) {
        json::ObjectReader part = parts.object(j);
        if (!part) return;
        const std::string_view type = part.required_string("type");
        if (type != "text") {
          part.fail("type", "only text content parts are supported");
          return;
        }
        cm.content += part.required_string("text");
      }
    } else {
      m.fail_type("content", "string or array");
      return;
    }
    out.push_back(std::move(cm));
  }
  bool add_generation_prompt = body.optional_bool("add_generation_prompt").value_or(true);
  req.prompt_text = render_chat(out, add_generation_prompt);
}

void append_usage(std::string& out, const Usage& u) {
  fmt::format_to(
      std::back_inserter(out),
      R"({{"prompt_tokens":{},"total_tokens":{},"completion_tokens":{},"prompt_tokens_details":{{"cached_tokens":{}}}}})",
      u.prompt_tokens, u.prompt_tokens + u.completion_tokens, u.completion_tokens, u.cached_tokens);
}

void append_head(std::string& out, std::string_view id, std::string_view object, int64_t created,
                 std::string_view model) {
  out += R"({"id":)";
  append_json_string(out, id);
  out += R"(,"object":")";
  out += object;
  out += R"(","created":)";
  out += std::to_string(created);
  out += R"(,"model":)";
  append_json_string(out, model);
}

void append_finish(std::string& out, std::string_view finish_reason) {
  out += R"(,"finish_reason":)";
  if (finish_reason.empty()) {
    out += "null";
  } else {
    append_json_string(out, finish_reason);
  }
}

}  // namespace

Result<CompletionRequest> parse_completion_request(std::string_view body_text, ApiKind api) {
  auto doc = json::parse(body_text);
  if (!doc) return doc.error();
  json::Extractor ex;
  json::ObjectReader body = ex.root(*doc);
  CompletionRequest req;
  req.api = api;
  req.model = std::string(body.required_string("model"));
  if (api == ApiKind::kChatCompletions) {
    parse_messages(body, req);
  } else {
    parse_prompt(body, req);
  }
  std::optional<int64_t> max_tokens = body.optional_int("max_tokens");
  if (api == ApiKind::kChatCompletions) {
    if (auto mct = body.optional_int("max_completion_tokens")) max_tokens = mct;
  }
  if (max_tokens) {
    if (*max_tokens < 1) {
      body.fail(api == ApiKind::kChatCompletions && body.find("max_completion_tokens")
                    ? "max_completion_tokens"
                    : "max_tokens",
                fmt::format("must be at least 1, got {}", *max_tokens));
    } else {
      req.max_tokens = static_cast<uint64_t>(*max_tokens);
    }
  }
  if (auto n = body.optional_int("n"); n && *n != 1)
    body.fail("n", fmt::format("only n=1 is supported, got {}", *n));
  req.stream = body.optional_bool("stream").value_or(false);
  if (json::ObjectReader so = body.optional_object("stream_options")) {
    req.include_usage = so.optional_bool("include_usage").value_or(false);
    req.continuous_usage = so.optional_bool("continuous_usage_stats").value_or(false);
  }
  req.ignore_eos = body.optional_bool("ignore_eos").value_or(false);
  if (auto salt = body.optional_string("cache_salt")) {
    if (salt->empty()) body.fail("cache_salt", "must be a non-empty string");
    req.cache_salt = std::string(*salt);
  }
  if (json::ObjectReader kv = body.optional_object("kv_transfer_params")) {
    req.kv_transfer_params = vllm::read_kv_transfer_params(kv);
  }
  // Typed checks of common sampling fields, so a wrong type is a 400 as on vLLM.
  (void)body.optional_double("temperature");
  (void)body.optional_double("top_p");
  (void)body.optional_int("seed");
  if (!ex.ok()) return ex.error();
  return req;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string render_response(ApiKind api, std::string_view id, int64_t created, std::string_view model,
                            std::string_view text, std::string_view finish_reason, const Usage& usage,
                            const std::optional<vllm::KvTransferParams>& kv) {
  std::string out;
  out.reserve(256 + text.size());
  append_head(out, id, api == ApiKind::kChatCompletions ? "chat.completion" : "text_completion", created,
              model);
  if (api == ApiKind::kChatCompletions) {
    out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
    append_json_string(out, text);
    out += R"(,"refusal":null,"tool_calls":[],"reasoning_content":null},"logprobs":null)";
  } else {
    out += R"(,"choices":[{"index":0,"text":)";
    append_json_string(out, text);
    out += R"(,"logprobs":null)";
  }
  append_finish(out, finish_reason);
  out += R"(,"stop_reason":null}],"usage":)";
  append_usage(out, usage);
  out += R"(,"prompt_logprobs":null,"kv_transfer_params":)";
  out += kv ? vllm::render_kv_transfer_params(*kv) : "null";
  out += '}';
  return out;
}

std::string render_role_chunk(std::string_view id, int64_t created, std::string_view model) {
  std::string out;
  append_head(out, id, "chat.completion.chunk", created, model);
  out +=
      R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})";
  return out;
}

std::string render_delta_chunk(ApiKind api, std::string_view id, int64_t created, std::string_view model,
                               std::string_view text, std::string_view finish_reason, const Usage* usage) {
  std::string out;
  out.reserve(160 + text.size());
  if (api == ApiKind::kChatCompletions) {
    append_head(out, id, "chat.completion.chunk", created, model);
    out += R"(,"choices":[{"index":0,"delta":{"content":)";
    append_json_string(out, text);
    out += R"(},"logprobs":null)";
  } else {
    append_head(out, id, "text_completion", created, model);
    out += R"(,"choices":[{"index":0,"text":)";
    append_json_string(out, text);
    out += R"(,"logprobs":null)";
  }
  append_finish(out, finish_reason);
  if (!finish_reason.empty()) out += R"(,"stop_reason":null)";
  out += "}]";
  if (usage != nullptr) {
    out += R"(,"usage":)";
    append_usage(out, *usage);
  }
  out += '}';
  return out;
}

std::string render_usage_chunk(ApiKind api, std::string_view id, int64_t created, std::string_view model,
                               const Usage& usage) {
  std::string out;
  append_head(out, id, api == ApiKind::kChatCompletions ? "chat.completion.chunk" : "text_completion",
              created, model);
  out += R"(,"choices":[],"usage":)";
  append_usage(out, usage);
  out += '}';
  return out;
}

}  // namespace llmd::sim
