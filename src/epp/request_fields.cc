#include "epp/request_fields.h"

#include <cstddef>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace llmd::epp {

namespace {

using sched::ChatMessage;
using sched::ContentPart;

// Token-id prompts become decimal text so that equal id prefixes hash to equal blocks.
void append_token_ids(const boost::json::array& ids, json::ArrayReader& reader, std::string& out) {
  for (size_t i = 0; i < ids.size(); ++i) {
    auto id = reader.integer(i);
    if (!id) return;
    if (!out.empty()) out.push_back(' ');
    out.append(std::to_string(*id));
  }
}

void read_prompt(json::ObjectReader& body, sched::LLMRequest& out) {
  const boost::json::value* p = body.find("prompt");
  if (p == nullptr) {
    body.fail("prompt", "field required");
    return;
  }
  if (p->is_string()) {
    out.prompt.assign(p->get_string().data(), p->get_string().size());
    return;
  }
  if (!p->is_array()) {
    body.fail_type("prompt", "string or array");
    return;
  }
  json::ArrayReader arr = body.required_array("prompt");
  const boost::json::array& a = p->get_array();
  if (a.empty()) {
    body.fail("prompt", "must not be empty");
    return;
  }
  if (a.front().is_string()) {
    // A batch of prompts: all of it is what the endpoint will have to prefill.
    for (size_t i = 0; i < a.size(); ++i) {
      auto s = arr.string(i);
      if (!s) return;
      if (i > 0) out.prompt.push_back('\n');
      out.prompt.append(*s);
    }
  } else if (a.front().is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      json::ArrayReader ids = arr.array(i);
      if (!ids) {
        arr.fail_type(i, "array of token ids");
        return;
      }
      if (i > 0) out.prompt.push_back('\n');
      std::string one;
      append_token_ids(*ids.array(), ids, one);
      out.prompt.append(one);
    }
  } else {
    append_token_ids(a, arr, out.prompt);
  }
}

void read_content_part(json::ArrayReader& parts, size_t i, ChatMessage& msg) {
  json::ObjectReader part = parts.object(i);
  if (!part) return;
  const std::string_view type = part.required_string("type");
  ContentPart cp;
  if (type == "text") {
    cp.data = std::string(part.required_string("text"));
  } else if (type == "image_url" || type == "video_url" || type == "audio_url") {
    cp.kind = ContentPart::Kind::kMedia;
    json::ObjectReader media = part.required_object(type);
    if (media) cp.data = std::string(media.required_string("url"));
  } else if (type == "input_audio") {
    cp.kind = ContentPart::Kind::kMedia;
    json::ObjectReader media = part.required_object("input_audio");
    if (media) cp.data = std::string(media.required_string("data"));
  } else {
    // Unknown part types (e.g. "refusal") still count as text for the estimate.
    if (auto t = part.optional_string("text")) cp.data = std::string(*t);
    part.object();  // other fields are the endpoint's to judge
  }
  msg.content.push_back(std::move(cp));
}

void read_messages(json::ObjectReader& body, sched::LLMRequest& out) {
  json::ArrayReader msgs = body.required_array("messages");
  if (!msgs) return;
  if (msgs.size() == 0) {
    body.fail("messages", "must not be empty");
    return;
  }
  out.messages.reserve(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    json::ObjectReader m = msgs.object(i);
    if (!m) return;
    ChatMessage msg;
    msg.role = std::string(m.required_string("role"));
    const boost::json::value* content = m.find("content");
    if (content == nullptr || content->is_null()) {
      // Assistant messages with tool calls may omit content.
    } else if (content->is_string()) {
      msg.content.push_back(ContentPart{ContentPart::Kind::kText, std::string(content->get_string())});
    } else if (content->is_array()) {
      json::ArrayReader parts = m.required_array("content");
      for (size_t j = 0; j < parts.size(); ++j) read_content_part(parts, j, msg);
    } else {
      m.fail_type("content", "string or array");
      return;
    }
    out.messages.push_back(std::move(msg));
  }
}

int64_t estimate_tokens(const sched::LLMRequest& r) {
  size_t bytes = r.prompt.size() + r.tools_json.size();
  for (const auto& m : r.messages) {
    for (const auto& p : m.content) bytes += p.kind == ContentPart::Kind::kText ? p.data.size() : 0;
  }
  return static_cast<int64_t>((bytes + 3) / 4);
}

}  // namespace

Result<void> parse_request_fields(std::string_view body, json::Parser& parser, sched::LLMRequest& out,
                                  RequestFields& fields) {
  // The body's DOM lives only in this call: an arena that starts on the stack makes it no heap
  // allocation at all for a typical request, and one free for a large one.
  alignas(std::max_align_t) unsigned char arena_buffer[4096];
  boost::json::monotonic_resource arena(arena_buffer, sizeof(arena_buffer));
  auto value = parser.parse(body, boost::json::storage_ptr(&arena));
  if (!value) {
    fields.error_param.clear();
    return value.error();
  }
  json::Extractor ex;
  json::ObjectReader root = ex.root(*value);
  out.model.assign(root.required_string("model"));
  if (ex.ok() && out.model.empty()) root.fail("model", "must not be empty");
  if (out.kind == vllm::ApiKind::kChatCompletions) {
    read_messages(root, out);
    if (const boost::json::value* tools = root.find("tools"); tools != nullptr && !tools->is_null()) {
      if (tools->is_array()) {
        out.tools_json = boost::json::serialize(*tools);
      } else {
        root.fail_type("tools", "array");
      }
    }
    auto limit = root.optional_int("max_completion_tokens");
    if (!limit) limit = root.optional_int("max_tokens");
    out.max_tokens = limit.value_or(-1);
  } else {
    read_prompt(root, out);
    out.max_tokens = root.optional_int("max_tokens").value_or(-1);
  }
  fields.stream = root.optional_bool("stream").value_or(false);
  if (auto salt = root.optional_string("cache_salt")) out.cache_salt.assign(*salt);
  if (!ex.ok()) {
    fields.error_param = ex.error_path();
    return ex.error();
  }
  out.estimated_tokens = estimate_tokens(out);
  return {};
}

}  // namespace llmd::epp
