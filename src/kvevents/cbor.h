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

// Appends the shortest head for `major` (0..7) with argument `value`.
void append_head(std::string& out, uint8_t major, uint64_t value);

inline void append_uint(std::string& out, uint64_t v) { append_head(out, 0, v); }
void append_bytes(std::string& out, std::span<const uint8_t> bytes);
void append_text(std::string& out, std::string_view text);
inline void append_array_head(std::string& out, uint64_t count) { append_head(out, 4, count); }
inline void append_null(std::string& out) { out.push_back(static_cast<char>(0xf6)); }

}  // namespace llmd::kvevents::cbor
