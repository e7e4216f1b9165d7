#include "tokenizer/unicode.h"

#include <cstdlib>

#include <utf8proc.h>

#include "common/utf8.h"

namespace llmd::tokenizer {
namespace {

bool is_cont(unsigned char b) { return (b & 0xC0u) == 0x80u; }

// Length of the well-formed sequence at s[i], or 0 when it is ill-formed. `valid_prefix` receives
// how many bytes form a maximal valid prefix of a sequence (at least 1), for lossy repair.
size_t well_formed_length(std::string_view s, size_t i, size_t& valid_prefix) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  valid_prefix = 1;
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return 0;
    const auto b = static_cast<unsigned char>(s[i + k]);
    const unsigned char l = k == 1 ? lo : 0x80;
    const unsigned char h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
    valid_prefix = k + 1;
  }
  return need + 1;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Fast path over ASCII, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t prefix;
    const size_t len = well_formed_length(s, i, prefix);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void append_lossy_utf8(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    size_t prefix;
    const size_t len = well_formed_length(s, i, prefix);
    if (len > 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      append_utf8(out, kReplacementChar);
      i += prefix;
    }
  }
}

uint32_t last_code_point(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && is_cont(static_cast<unsigned char>(s[start]))) --start;
  return next_code_point(s, start);
}

bool is_white_space(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_python_space(uint32_t cp) {
  if (cp >= 0x1C && cp <= 0x1F) return true;
  return is_white_space(cp);
}

bool is_numeric(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

bool is_punctuation(uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
           (cp >= 0x7B && cp <= 0x7E);
  }
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_word_char(uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  }
  if (cp == 0x200C || cp == 0x200D) return true;
  // Letter-like symbols (circled and squared Latin letters) that are Other_Alphabetic.
  if ((cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) ||
      (cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189)) {
    return true;
  }
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  switch (cat) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

void append_normalized(std::string_view s, NormalForm form, std::string& out) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalForm::kNfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalForm::kNfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::kNfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    size_t q = i;
    while (q < n && static_cast<unsigned char>(s[q]) < 0x80) ++q;
    if (q == n) {
      out.append(s.data() + i, n - i);
      return;
    }
    // The ASCII character just before a non-ASCII run may be the base of a composition.
    const size_t start = q > i ? q - 1 : q;
    out.append(s.data() + i, start - i);
    size_t r = q;
    while (r < n && static_cast<unsigned char>(s[r]) >= 0x80) ++r;
    utf8proc_uint8_t* dst = nullptr;
    const auto len =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + start),
                     static_cast<utf8proc_ssize_t>(r - start), &dst, static_cast<utf8proc_option_t>(options));
    if (len >= 0 && dst != nullptr) {
      out.append(reinterpret_cast<const char*>(dst), static_cast<size_t>(len));
    } else {
      // Only reachable on allocation failure; input is valid UTF-8. Keep the text unchanged.
      out.append(s.data() + start, r - start);
    }
    std::free(dst);
    i = r;
  }
}

void append_lowercase(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
      ++i;
      continue;
    }
    const uint32_t cp = next_code_point(s, i);
    if (cp == 0x130) {
      // The one unconditional multi-character lowercase mapping (SpecialCasing.txt).
      out.push_back('i');
      append_utf8(out, 0x307);
      continue;
    }
    append_utf8(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
}

}  // namespace llmd::tokenizer
