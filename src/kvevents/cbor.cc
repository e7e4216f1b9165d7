#include "kvevents/cbor.h"

namespace llmd::kvevents::cbor {

void append_bytes(std::string& out, std::span<const uint8_t> bytes) {
  append_head(out, 2, bytes.size());
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void append_text(std::string& out, std::string_view text) {
  append_head(out, 3, text.size());
  out.append(text);
}

}  // namespace llmd::kvevents::cbor
