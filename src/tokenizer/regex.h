#pragma once
// PCRE2 (UTF + UCP, JIT) regexes with Oniguruma semantics, as Hugging Face tokenizers compiles its
// Split and Replace patterns with Oniguruma (Ruby syntax). The pattern is translated where the two
// engines differ: \s, \S (Oniguruma includes U+0085), \w, \W, \h, \H and the (?m) flag.
// A compiled Regex is immutable and shared; each thread brings its own RegexScratch.

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <pcre2.h>

#include "common/error.h"

namespace llmd::tokenizer {

// Per-thread match state: one match-data block and one JIT stack, reused for every regex.
class RegexScratch {
 public:
  RegexScratch();
  ~RegexScratch();
  RegexScratch(const RegexScratch&) = delete;
  RegexScratch& operator=(const RegexScratch&) = delete;

  pcre2_match_data* match_data() const { return match_data_; }
  pcre2_match_context* match_context() const { return match_context_; }

 private:
  pcre2_match_data* match_data_ = nullptr;
  pcre2_match_context* match_context_ = nullptr;
  pcre2_jit_stack* jit_stack_ = nullptr;
};

// Rewrites an Oniguruma (Ruby syntax) pattern into an equivalent PCRE2 pattern.
Result<std::string> translate_onig_pattern(std::string_view pattern);

class Regex {
 public:
  // Compiles an Oniguruma pattern (translated) or, with `raw_pcre2`, a PCRE2 pattern as is.
  static Result<std::unique_ptr<Regex>> compile(std::string_view pattern, bool raw_pcre2 = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Searches valid UTF-8 `subject` from byte `start`. Returns true and sets [mstart, mend) on a
  // match, false when there is none, and an error when PCRE2 fails (match or JIT stack limit).
  Result<bool> search(std::string_view subject, size_t start, RegexScratch& scratch, size_t& mstart,
                      size_t& mend) const;

  // Calls on_match(start, end) for every match, left to right, as Oniguruma's find_iter does:
  // an empty match right where the previous match ended is skipped by advancing one character.
  template <class F>
  Result<void> for_each_match(std::string_view subject, RegexScratch& scratch, F&& on_match) const {
    size_t pos = 0;
    size_t last_match_end = static_cast<size_t>(-1);
    while (pos <= subject.size()) {
      size_t s, e;
      auto found = search(subject, pos, scratch, s, e);
      if (!found) return found.error();
      if (!*found) break;
      if (s == e && last_match_end == e) {
        if (pos >= subject.size()) break;
        pos += utf8_step(subject, pos);
        continue;
      }
      pos = e;
      last_match_end = e;
      on_match(s, e);
      if (s == e && pos >= subject.size()) break;
    }
    return {};
  }

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  static size_t utf8_step(std::string_view s, size_t i);

  pcre2_code* code_ = nullptr;
  bool jit_ = false;
  std::string pattern_;
};

}  // namespace llmd::tokenizer
