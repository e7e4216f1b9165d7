#pragma once
// The canonical CBOR (RFC 8949 §4.2.1, as cbor2's `canonical=True` writes it) subset that vLLM's
// `sha256_cbor` block hash serializes: unsigned integers, byte strings, text strings, arrays and null.
//
// Hand-written: Debian 12 packages no C++ CBOR library (libcbor is C, has no canonical mode and
// would still need this wrapper), and the subset is five head encodings.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace llmd::kvevents::cbor {

// Writes the shortest head for `major` (0..7) with argument `value` at `p` (room for 9 bytes);
// returns the end.
inline char* put_head(char* p, uint8_t major, uint64_t value) {
  const auto m = static_cast<uint8_t>(major << 5);
  int bytes = 0;
  if (value < 24) {
    *p++ = static_cast<char>(m | value);
    return p;
  }
  if (value <= 0xff) {
    *p++ = static_cast<char>(m | 24);
    bytes = 1;
  } else if (value <= 0xffff) {
    *p++ = static_cast<char>(m | 25);
    bytes = 2;
  } else if (value <= 0xffffffffull) {
    *p++ = static_cast<char>(m | 26);
    bytes = 4;
  } else {
    *p++ = static_cast<char>(m | 27);
    bytes = 8;
  }
  for (int i = bytes - 1; i >= 0; --i) *p++ = static_cast<char>((value >> (8 * i)) & 0xff);
  return p;
}

// Appends the shortest head for `major` (0..7) with argument `value`.
inline void append_head(std::string& out, uint8_t major, uint64_t value) {
  char head[9];
  out.append(head, static_cast<size_t>(put_head(head, major, value) - head));
}

inline void append_uint(std::string& out, uint64_t v) { append_head(out, 0, v); }
void append_bytes(std::string& out, std::span<const uint8_t> bytes);
void append_text(std::string& out, std::string_view text);
inline void append_array_head(std::string& out, uint64_t count) { append_head(out, 4, count); }
inline void append_null(std::string& out) { out.push_back(static_cast<char>(0xf6)); }

}  // namespace llmd::kvevents::cbor
