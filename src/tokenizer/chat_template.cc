#include "tokenizer/chat_template.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace llmd::tokenizer {
namespace {

using jinja::CallArgs;
using jinja::Value;

// The keys transformers exposes through special_tokens_map.
constexpr const char* kSpecialTokenKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                             "pad_token", "cls_token", "mask_token"};

// A special token is a string or an AddedToken object {"content": ...}; null means unset.
std::optional<std::string> token_content(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_object()) {
    auto it = v.get_object().find("content");
    if (it != v.get_object().end() && it->value().is_string()) return std::string(it->value().get_string());
  }
  return std::nullopt;
}

jinja::Options environment_options() {
  jinja::Options o;
  o.trim_blocks = true;
  o.lstrip_blocks = true;
  return o;
}

}  // namespace

Result<ChatTemplate> ChatTemplate::from_source(std::string_view source,
                                               const boost::json::object& special_tokens) {
  auto tpl = jinja::Template::parse(source, environment_options());
  if (!tpl) return make_error(ErrorCode::kConfig, fmt::format("chat_template: {}", tpl.error().message));
  ChatTemplate ct;
  ct.template_ = std::move(*tpl);
  ct.source_ = std::string(source);
  for (const char* key : kSpecialTokenKeys) {
    auto it = special_tokens.find(key);
    if (it == special_tokens.end()) continue;
    if (auto content = token_content(it->value())) {
      ct.special_tokens_.emplace_back(Value::string(key), Value::string(*content));
    }
  }
  auto extra = special_tokens.find("additional_special_tokens");
  if (extra != special_tokens.end() && extra->value().is_array()) {
    Value::List items;
    for (const auto& t : extra->value().get_array()) {
      if (auto content = token_content(t)) items.push_back(Value::string(*content));
    }
    ct.special_tokens_.emplace_back(Value::string("additional_special_tokens"),
                                    Value::list(std::move(items)));
  }
  return ct;
}

Result<ChatTemplate> ChatTemplate::from_config_json(std::string_view json_text, std::string_view name) {
  boost::system::error_code ec;
  auto root = boost::json::parse(json_text, ec);
  if (ec) return make_error(ErrorCode::kConfig, fmt::format("invalid JSON: {}", ec.message()));
  if (!root.is_object()) return make_error(ErrorCode::kConfig, "(root): expected object");
  const auto& obj = root.get_object();
  auto it = obj.find("chat_template");
  if (it == obj.end() || it->value().is_null()) {
    return make_error(ErrorCode::kConfig, "chat_template: the tokenizer config has no chat template");
  }
  std::string source;
  if (it->value().is_string()) {
    source = std::string(it->value().get_string());
  } else if (it->value().is_array()) {
    for (const auto& entry : it->value().get_array()) {
      if (!entry.is_object()) continue;
      auto n = entry.get_object().find("name");
      auto t = entry.get_object().find("template");
      if (n != entry.get_object().end() && t != entry.get_object().end() && n->value().is_string() &&
          t->value().is_string() && n->value().get_string() == name) {
        source = std::string(t->value().get_string());
      }
    }
    if (source.empty()) {
      return make_error(ErrorCode::kConfig, fmt::format("chat_template: no template named '{}'", name));
    }
  } else {
    return make_error(ErrorCode::kConfig, "chat_template: expected a string or a list of {name, template}");
  }
  return from_source(source, obj);
}

Result<ChatTemplate> ChatTemplate::from_config_file(const std::string& path, std::string_view name) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kIo, fmt::format("cannot open tokenizer config '{}'", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  auto ct = from_config_json(ss.str(), name);
  if (!ct) return make_error(ct.error().code, fmt::format("{}: {}", path, ct.error().message));
  return ct;
}

std::string ChatTemplate::special_token(std::string_view name) const {
  for (const auto& kv : special_tokens_) {
    if (kv.first.as_string() == name && kv.second.is_string()) return kv.second.as_string();
  }
  return {};
}

boost::json::object ChatTemplate::special_tokens_json() const {
  boost::json::object out;
  for (const auto& kv : special_tokens_) {
    if (kv.second.is_string()) {
      out[kv.first.as_string()] = kv.second.as_string();
    } else if (kv.second.is_list()) {
      boost::json::array items;
      for (const auto& x : kv.second.as_list()) items.push_back(boost::json::string(x.as_string()));
      out[kv.first.as_string()] = std::move(items);
    }
  }
  return out;
}

Result<std::string> ChatTemplate::render(const boost::json::array& messages,
                                         const ChatRenderOptions& options) const {
  Value::Dict vars = special_tokens_;
  auto set = [&](const std::string& key, Value v) {
    for (auto& kv : vars) {
      if (kv.first.as_string() == key) {
        kv.second = std::move(v);
        return;
      }
    }
    vars.emplace_back(Value::string(key), std::move(v));
  };
  set("messages", Value::from_json(messages));
  set("tools", options.tools ? Value::from_json(*options.tools) : Value::none());
  set("documents", options.documents ? Value::from_json(*options.documents) : Value::none());
  set("add_generation_prompt", Value::boolean(options.add_generation_prompt));
  set("raise_exception", Value::callable(
                             [](CallArgs& args) -> Result<Value> {
                               const std::string msg =
                                   args.positional.empty() ? "" : args.positional[0].str();
                               return make_error(ErrorCode::kInvalidArgument, msg);
                             },
                             "raise_exception"));
  int64_t now;
  if (options.now_unix_seconds) {
    now = *options.now_unix_seconds;
  } else {
    now = std::chrono::duration_cast<std::chrono::seconds>(options.clock->wall_now()).count();
  }
  set("strftime_now",
      Value::callable(
          [now](CallArgs& args) -> Result<Value> {
            if (args.positional.empty() || !args.positional[0].is_string()) {
              return make_error(ErrorCode::kInvalidArgument, "strftime_now expects a format string");
            }
            const std::time_t t = static_cast<std::time_t>(now);
            std::tm tm{};
            localtime_r(&t, &tm);
            char buf[512];
            const size_t n = std::strftime(buf, sizeof(buf), args.positional[0].as_string().c_str(), &tm);
            return Value::string(std::string(buf, n));
          },
          "strftime_now"));
  for (const auto& kv : options.kwargs) set(std::string(kv.key()), Value::from_json(kv.value()));
  return template_.render(vars);
}

}  // namespace llmd::tokenizer
