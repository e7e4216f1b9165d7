#include "kvevents/cbor.h"

namespace llmd::kvevents::cbor {

void append_head(std::string& out, uint8_t major, uint64_t value) {
  const auto m = static_cast<uint8_t>(major << 5);
  auto put = [&out](uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  if (value < 24) {
    out.push_back(static_cast<char>(m | value));
  } else if (value <= 0xff) {
    out.push_back(static_cast<char>(m | 24));
    put(value, 1);
  } else if (value <= 0xffff) {
    out.push_back(static_cast<char>(m | 25));
    put(value, 2);
  } else if (value <= 0xffffffffull) {
    out.push_back(static_cast<char>(m | 26));
    put(value, 4);
  } else {
    out.push_back(static_cast<char>(m | 27));
    put(value, 8);
  }
}

void append_bytes(std::string& out, std::span<const uint8_t> bytes) {
  append_head(out, 2, bytes.size());
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void append_text(std::string& out, std::string_view text) {
  append_head(out, 3, text.size());
  out.append(text);
}

}  // namespace llmd::kvevents::cbor
