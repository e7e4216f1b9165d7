// Fuzzes the KV-event batch decoder: it must never crash or over-read, and whatever it accepts must
// survive an encode/decode round trip in both encodings unchanged.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kvevents/events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace llmd::kvevents;
  auto dec = decode_batch(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!dec || std::isnan(dec->batch.ts)) return 0;
  for (Encoding enc : {Encoding::kMap, Encoding::kArray}) {
    auto again = decode_batch(encode_batch(dec->batch, enc));
    if (!again || !(again->batch == dec->batch) || again->skipped_events != 0) __builtin_trap();
  }
  return 0;
}
