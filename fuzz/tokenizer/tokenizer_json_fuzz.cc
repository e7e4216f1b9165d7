// Fuzz target for the tokenizer.json loader: any input must load or fail with an error, and a
// tokenizer that loads must encode and decode a fixed text without failing.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto t = llmd::tokenizer::Tokenizer::from_json(json);
  if (!t) {
    if (t.error().message.empty()) std::abort();
    return 0;
  }
  auto ids = (*t)->encode("Hello, world! 12345 <s> \xC3\xA9\xF0\x9F\x99\x82 \xFF");
  if (!ids) return 0;  // e.g. a regex that hits the match limit: an error, not a crash
  (void)(*t)->decode(*ids, true);
  return 0;
}
