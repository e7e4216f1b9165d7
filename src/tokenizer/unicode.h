#pragma once
// UTF-8 and Unicode helpers for the tokenizer: decoding, lossy repair of invalid input, the
// character classes Hugging Face tokenizers (Rust) and Jinja2 (Python) use, and normalization
// through utf8proc.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace llmd::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// True when `s` is well-formed UTF-8 (no surrogates, no overlongs, at most U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Appends `s` to `out`, replacing each maximal ill-formed subsequence with U+FFFD. This is the
// WHATWG decoder's behaviour, which Node's Buffer#toString and Rust's String::from_utf8_lossy share.
void append_lossy_utf8(std::string_view s, std::string& out);

// Decodes the code point at s[i] and advances i. `s` must be valid UTF-8.
inline uint32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 < 0xE0) {
    uint32_t cp = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
    i += 2;
    return cp;
  }
  if (b0 < 0xF0) {
    uint32_t cp = ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                  (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
    i += 3;
    return cp;
  }
  uint32_t cp = ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
                ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
                (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
  i += 4;
  return cp;
}

// Byte length of the UTF-8 sequence that starts with `lead`.
inline size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the last code point of a non-empty valid UTF-8 string.
uint32_t last_code_point(std::string_view s);

using llmd::append_utf8;

// Rust char::is_whitespace (the Unicode White_Space property).
bool is_white_space(uint32_t cp);
// Python str.isspace(), which Jinja2 uses for trim, strip and whitespace control.
bool is_python_space(uint32_t cp);
// Rust char::is_numeric: general categories Nd, Nl, No.
bool is_numeric(uint32_t cp);
// Rust char::is_ascii_punctuation || Unicode general category P*.
bool is_punctuation(uint32_t cp);
// The regex crate's \w: Alphabetic, marks, decimal digits, connector punctuation, joiners.
bool is_word_char(uint32_t cp);

// Unicode normalization forms, as the NFC/NFD/NFKC/NFKD normalizers apply them.
enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

// Appends the normalized form of valid UTF-8 `s` to `out`. ASCII runs are copied as they are:
// an ASCII character is a starter that never composes with what precedes it, so the string can be
// cut in front of one without changing the result.
void append_normalized(std::string_view s, NormalForm form, std::string& out);

// Appends `s` lowercased character by character with Rust's char::to_lowercase (the full
// mapping, so U+0130 becomes "i\u0307"; no context-dependent final sigma).
void append_lowercase(std::string_view s, std::string& out);

}  // namespace llmd::tokenizer
