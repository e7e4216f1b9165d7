#pragma once
// Normalizers from tokenizer.json: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip and
// Sequence. They rewrite text before pre-tokenization; only the text matters for ids, so no
// alignment to the original offsets is kept.

#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "common/error.h"
#include "tokenizer/regex.h"

namespace llmd::tokenizer {

// Temporaries a normalizer may use; owned by the calling thread.
struct NormalizeScratch {
  RegexScratch& regex;
  std::string* tmp;  // two strings, for Sequence
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Writes the normalized form of valid UTF-8 `in` to `out` (cleared first). `in` never aliases `out`.
  virtual Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch& scratch) const = 0;
};

// Parses the "normalizer" object at `path`. Unknown types fail.
Result<std::unique_ptr<Normalizer>> parse_normalizer(const boost::json::value& v, const std::string& path);

// How a Split or Replace "pattern" field is given: {"String": s} or {"Regex": r}.
struct PatternSpec {
  bool is_regex = false;
  std::string text;
};
Result<PatternSpec> parse_pattern(const boost::json::value& v, const std::string& path);

}  // namespace llmd::tokenizer
