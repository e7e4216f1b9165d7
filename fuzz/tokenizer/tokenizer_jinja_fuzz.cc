// Fuzz target for the Jinja parser and renderer behind chat templates: any input must parse or
// fail with an error; rendering it with a fixed conversation must end (bounded by the renderer's
// step, depth and output limits) with an error or with output that a second render reproduces.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/json.hpp>

#include "tokenizer/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const boost::json::array messages = boost::json::parse(R"([
    {"role":"system","content":"Be brief."},
    {"role":"user","content":[{"type":"text","text":"Hi <b>there</b>"},{"type":"image"}]},
    {"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"f","arguments":{"x":1}}}]},
    {"role":"tool","content":"42"}])")
                                                 .as_array();
  static const boost::json::object specials =
      boost::json::parse(R"({"bos_token":"<s>","eos_token":"</s>"})").as_object();
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto ct = llmd::tokenizer::ChatTemplate::from_source(source, specials);
  if (!ct) {
    if (ct.error().message.empty()) std::abort();
    return 0;
  }
  llmd::tokenizer::ChatRenderOptions opt;
  opt.add_generation_prompt = (size & 1) != 0;
  opt.tools =
      boost::json::parse(R"([{"type":"function","function":{"name":"f","parameters":{}}}])").as_array();
  opt.now_unix_seconds = 0;
  auto out = ct->render(messages, opt);
  if (!out) return 0;
  // Rendering is deterministic: a second render gives the same text.
  auto again = ct->render(messages, opt);
  if (!again || *again != *out) std::abort();
  return 0;
}
