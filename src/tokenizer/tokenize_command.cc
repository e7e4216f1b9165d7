#include "tokenizer/tokenize_command.h"

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace llmd::cli {
namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string config;
  std::string text;
  bool text_given = false;
  bool chat = false;
  bool no_special = false;
  bool no_generation_prompt = false;
  bool decode = false;
  bool skip_special = false;
  bool tokens = false;
};

int fail(int code, const std::string& msg) {
  fmt::print(stderr, "llmd tokenize: {}\n", msg);
  return code;
}

std::string read_input(const TokenizeArgs& a) {
  if (a.text_given) return a.text;
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

int run(const TokenizeArgs& a) {
  auto tok = tokenizer::Tokenizer::load(a.tokenizer);
  if (!tok) return fail(2, tok.error().message);
  const std::string input = read_input(a);
  boost::json::object out;

  if (a.decode) {
    boost::system::error_code ec;
    auto v = boost::json::parse(input, ec);
    if (ec || !v.is_array())
      return fail(1, "--decode expects a JSON array of token ids on stdin or in --text");
    std::vector<uint32_t> ids;
    for (const auto& x : v.get_array()) {
      const bool in_range = (x.is_int64() && x.get_int64() >= 0 && x.get_int64() <= UINT32_MAX) ||
                            (x.is_uint64() && x.get_uint64() <= UINT32_MAX);
      if (!in_range) return fail(1, "--decode: ids must be integers in [0, 2^32)");
      ids.push_back(
          static_cast<uint32_t>(x.is_int64() ? x.get_int64() : static_cast<int64_t>(x.get_uint64())));
    }
    out["text"] = (*tok)->decode(ids, a.skip_special);
    fmt::print("{}\n", boost::json::serialize(out));
    return 0;
  }

  std::string prompt = input;
  tokenizer::EncodeOptions eo;
  eo.add_special_tokens = !a.no_special;
  if (a.chat) {
    std::string config = a.config;
    if (config.empty()) {
      config = (std::filesystem::path(a.tokenizer).parent_path() / "tokenizer_config.json").string();
    }
    auto ct = tokenizer::ChatTemplate::from_config_file(config);
    if (!ct) return fail(2, ct.error().message);
    boost::system::error_code ec;
    auto v = boost::json::parse(input, ec);
    if (ec) return fail(1, fmt::format("--chat expects JSON messages: {}", ec.message()));
    tokenizer::ChatRenderOptions ro;
    ro.add_generation_prompt = !a.no_generation_prompt;
    const boost::json::array* messages = nullptr;
    if (v.is_array()) {
      messages = &v.get_array();
    } else if (v.is_object()) {
      const auto& o = v.get_object();
      if (auto it = o.find("messages"); it != o.end() && it->value().is_array())
        messages = &it->value().get_array();
      if (auto it = o.find("tools"); it != o.end() && it->value().is_array())
        ro.tools = it->value().get_array();
      if (auto it = o.find("documents"); it != o.end() && it->value().is_array())
        ro.documents = it->value().get_array();
      if (auto it = o.find("add_generation_prompt"); it != o.end() && it->value().is_bool()) {
        ro.add_generation_prompt = it->value().get_bool();
      }
      if (auto it = o.find("chat_template_kwargs"); it != o.end() && it->value().is_object()) {
        ro.kwargs = it->value().get_object();
      }
    }
    if (messages == nullptr)
      return fail(1, "--chat expects a JSON array of messages or {\"messages\": [...], ...}");
    auto rendered = ct->render(*messages, ro);
    if (!rendered) return fail(1, fmt::format("chat template: {}", rendered.error().message));
    prompt = std::move(*rendered);
    // vLLM tokenizes a rendered chat prompt without adding special tokens: the template has them.
    eo.add_special_tokens = false;
    out["prompt"] = prompt;
  }
  auto ids = (*tok)->encode(prompt, eo);
  if (!ids) return fail(1, ids.error().message);
  boost::json::array ids_json;
  for (uint32_t id : *ids) ids_json.push_back(id);
  out["ids"] = std::move(ids_json);
  if (a.tokens) {
    boost::json::array toks;
    for (uint32_t id : *ids) toks.push_back(boost::json::string((*tok)->id_to_token(id).value_or("")));
    out["tokens"] = std::move(toks);
  }
  fmt::print("{}\n", boost::json::serialize(out));
  return 0;
}

}  // namespace

RunFn setup_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  app.add_option("--tokenizer", args->tokenizer, "Path to a Hugging Face tokenizer.json")->required();
  app.add_option("--config", args->config,
                 "Path to tokenizer_config.json (for --chat; default: next to tokenizer.json)");
  app.add_option("--text", args->text, "Input (default: stdin)")->each([args](const std::string&) {
    args->text_given = true;
  });
  app.add_flag("--chat", args->chat,
               "Input is JSON messages (or {messages, tools, documents, add_generation_prompt, "
               "chat_template_kwargs}); render the chat template, then encode without special tokens");
  app.add_flag("--no-generation-prompt", args->no_generation_prompt,
               "With --chat: add_generation_prompt=false");
  app.add_flag("--no-special", args->no_special, "Do not add BOS/EOS (add_special_tokens=false)");
  app.add_flag("--decode", args->decode, "Input is a JSON array of ids; print the decoded text");
  app.add_flag("--skip-special", args->skip_special, "With --decode: skip special tokens");
  app.add_flag("--tokens", args->tokens, "Also print the token strings");
  return [args] { return run(*args); };
}

}  // namespace llmd::cli
