#include "tokenizer/regex.h"

#include <fmt/format.h>

#include "tokenizer/unicode.h"

namespace llmd::tokenizer {
namespace {

// Oniguruma's \s: the White_Space property (PCRE2's \s with UCP lacks U+0085).
constexpr std::string_view kSpaceSet =
    "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{"
    "3000}";
// Oniguruma's \w: Alphabetic, marks, decimal numbers, connector punctuation, Join_Control.
constexpr std::string_view kWordSet = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200c}\\x{200d}";
// Oniguruma (Ruby syntax) \h is a hexadecimal digit, not horizontal space.
constexpr std::string_view kHexSet = "0-9a-fA-F";

constexpr size_t kJitStackStart = 32 * 1024;
constexpr size_t kJitStackMax = 4 * 1024 * 1024;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

RegexScratch::RegexScratch() {
  // One ovector pair is enough: only the overall match is used, whatever the pattern's groups.
  match_data_ = pcre2_match_data_create(1, nullptr);
  match_context_ = pcre2_match_context_create(nullptr);
  jit_stack_ = pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr);
  if (match_context_ != nullptr && jit_stack_ != nullptr) {
    pcre2_jit_stack_assign(match_context_, nullptr, jit_stack_);
  }
}

RegexScratch::~RegexScratch() {
  pcre2_jit_stack_free(jit_stack_);
  pcre2_match_context_free(match_context_);
  pcre2_match_data_free(match_data_);
}

Result<std::string> translate_onig_pattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  size_t class_start = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return make_error(ErrorCode::kConfig, "regex ends with a lone backslash");
      const char e = p[++i];
      const bool negated = e == 'S' || e == 'W' || e == 'H';
      std::string_view set;
      switch (e) {
        case 's':
        case 'S':
          set = kSpaceSet;
          break;
        case 'w':
        case 'W':
          set = kWordSet;
          break;
        case 'h':
        case 'H':
          set = kHexSet;
          break;
        case 'u':
          // \uHHHH (Ruby) becomes \x{HHHH}.
          if (i + 4 < p.size() && is_hex(p[i + 1]) && is_hex(p[i + 2]) && is_hex(p[i + 3]) &&
              is_hex(p[i + 4])) {
            out += "\\x{";
            out.append(p.substr(i + 1, 4));
            out += '}';
            i += 4;
            continue;
          }
          return make_error(ErrorCode::kConfig, fmt::format("unsupported escape \\u in regex '{}'", p));
        default:
          out += '\\';
          out += e;
          continue;
      }
      if (in_class) {
        if (negated) {
          return make_error(
              ErrorCode::kConfig,
              fmt::format("unsupported negated class escape \\{} inside [...] in regex '{}'", e, p));
        }
        out.append(set);
      } else {
        out += negated ? "[^" : "[";
        out.append(set);
        out += ']';
      }
      continue;
    }
    if (in_class) {
      if (c == ']' && i > class_start) {
        in_class = false;
      } else if (c == '[') {
        if (i + 1 < p.size() && p[i + 1] == ':') {
          // POSIX class such as [:alpha:]: copy through the closing ":]".
          const size_t end = p.find(":]", i + 2);
          if (end == std::string_view::npos) {
            return make_error(ErrorCode::kConfig, fmt::format("unterminated POSIX class in regex '{}'", p));
          }
          out.append(p.substr(i, end + 2 - i));
          i = end + 1;
          continue;
        }
        return make_error(ErrorCode::kConfig,
                          fmt::format("unsupported nested character class in regex '{}'", p));
      } else if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
        return make_error(ErrorCode::kConfig,
                          fmt::format("unsupported class intersection && in regex '{}'", p));
      }
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A leading '^' and a leading ']' belong to the class body.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') {
        out += '^';
        ++j;
      }
      if (j < p.size() && p[j] == ']') {
        out += ']';
        ++j;
      }
      class_start = j;
      i = j - 1;
      continue;
    }
    if (c == '(' && i + 1 < p.size() && p[i + 1] == '?') {
      // Inline flags: Ruby's (?m) is dot-all, PCRE2's (?s).
      size_t j = i + 2;
      while (j < p.size() && (p[j] == 'i' || p[j] == 'm' || p[j] == 'x' || p[j] == '-')) ++j;
      if (j > i + 2 && j < p.size() && (p[j] == ':' || p[j] == ')')) {
        out += "(?";
        for (size_t k = i + 2; k < j; ++k) out += p[k] == 'm' ? 's' : p[k];
        i = j - 1;
        continue;
      }
    }
    out += c;
  }
  if (in_class)
    return make_error(ErrorCode::kConfig, fmt::format("unterminated character class in regex '{}'", p));
  return out;
}

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern, bool raw_pcre2) {
  std::string translated;
  if (raw_pcre2) {
    translated = std::string(pattern);
  } else {
    auto t = translate_onig_pattern(pattern);
    if (!t) return t.error();
    translated = std::move(*t);
  }
  int err = 0;
  PCRE2_SIZE offset = 0;
  // Ruby syntax: ^ and $ always match at line boundaries.
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   options, &err, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return make_error(ErrorCode::kConfig, fmt::format("cannot compile regex '{}' at offset {}: {}", pattern,
                                                      offset, reinterpret_cast<const char*>(msg)));
  }
  std::unique_ptr<Regex> re(new Regex());
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  re->pattern_ = std::string(pattern);
  return re;
}

Regex::~Regex() { pcre2_code_free(code_); }

size_t Regex::utf8_step(std::string_view s, size_t i) {
  return utf8_length(static_cast<unsigned char>(s[i]));
}

Result<bool> Regex::search(std::string_view subject, size_t start, RegexScratch& scratch, size_t& mstart,
                           size_t& mend) const {
  int rc;
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  if (jit_) {
    rc =
        pcre2_jit_match(code_, subj, subject.size(), start, 0, scratch.match_data(), scratch.match_context());
  } else {
    rc = pcre2_match(code_, subj, subject.size(), start, PCRE2_NO_UTF_CHECK, scratch.match_data(),
                     scratch.match_context());
  }
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof(msg));
    return make_error(ErrorCode::kResourceExhausted,
                      fmt::format("regex match failed: {}", reinterpret_cast<const char*>(msg)));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch.match_data());
  mstart = ov[0];
  mend = ov[1];
  return true;
}

}  // namespace llmd::tokenizer
