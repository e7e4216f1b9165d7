// Fuzzes query_values() (the `name[]` filter of /metrics): any target must give a verdict without
// crashing, at most one value per '&'-separated part, and none when there is no query.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/types.h"

// The first input byte splits the rest into the key and the target.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t key_len = std::min<size_t>(data[0] % 16, size - 1);
  const std::string_view key(reinterpret_cast<const char*>(data + 1), key_len);
  const std::string_view target(reinterpret_cast<const char*>(data + 1 + key_len), size - 1 - key_len);
  const auto values = llmd::http::query_values(target, key);
  const size_t q = target.find('?');
  if (q == std::string_view::npos && !values.empty()) std::abort();
  const size_t parts =
      q == std::string_view::npos ? 0 : 1 + std::count(target.begin() + q, target.end(), '&');
  if (values.size() > parts) std::abort();
  for (const auto& v : values) {
    if (v.size() > target.size()) std::abort();  // decoding never grows a value
  }
  return 0;
}
