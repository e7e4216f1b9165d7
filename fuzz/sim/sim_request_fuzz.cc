// Fuzzes the simulator's request parsing: completion and chat bodies must parse or fail cleanly,
// and the pseudo-tokenizer must round-trip any bytes exactly (text → ids → text) with every id it
// produces being one it accepts back.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/engine/tokenizer.h"
#include "sim/server/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace llmd::sim;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (ApiKind api : {ApiKind::kCompletions, ApiKind::kChatCompletions}) {
    auto r = parse_completion_request(in, api);
    if (r && r->model.empty() && !in.empty() && in.find("\"model\"") == std::string_view::npos)
      __builtin_trap();
  }
  PseudoTokenizer t;
  const auto ids = t.encode(in);
  for (uint32_t id : ids) {
    if (!PseudoTokenizer::valid(id)) __builtin_trap();
  }
  if (t.decode(ids) != in) __builtin_trap();
  return 0;
}
