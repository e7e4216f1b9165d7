#pragma once
// A fast parser of the Prometheus text exposition format 0.0.4, for scraping model servers' /metrics
// (vLLM, every 50 ms, on hundreds of endpoints). It allocates only while a reused Page grows: names,
// label names and label values are string_views into the input, except label values and HELP texts
// that contained escapes, which are unescaped into the Page's scratch buffer.
//
// Accepted: `# HELP name text` and `# TYPE name type` (other `#` lines are comments), blank lines,
// LF or CRLF line ends, a missing final newline, and samples
//   name[{label="value",...[,]}] value [timestamp_ms]
// with spaces or tabs between tokens, values as Go's ParseFloat spells them (1, -2.5e-3, +Inf, -Inf,
// NaN, case-insensitive inf/nan) and an optional int64 millisecond timestamp. Label values may escape
// \\, \" and \n; any other escape is an error. Not checked: UTF-8 validity of label values, the order
// of TYPE lines relative to samples, and duplicate series. With a ScrapeFilter, lines of unwanted
// metrics are skipped after their name is read and are not validated further.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "metrics/text_format.h"

namespace llmd::metrics {

struct Label {
  std::string_view name;
  std::string_view value;  // unescaped
};

struct Sample {
  std::string_view name;
  double value = 0.0;
  int64_t timestamp_ms = 0;  // meaningful only if has_timestamp
  bool has_timestamp = false;
  uint32_t line = 0;         // 1-based line number in the input
  uint32_t label_begin = 0;  // this sample's labels are Page::labels()[label_begin, +label_count)
  uint32_t label_count = 0;
};

// What the HELP and TYPE lines said about one metric family.
struct FamilyInfo {
  std::string_view name;
  std::string_view help;  // unescaped
  MetricType type = MetricType::kUntyped;
  bool has_help = false;
  bool has_type = false;
};

// The metrics a scraper wants; the parser skips every other line right after reading its name.
class ScrapeFilter {
 public:
  ScrapeFilter() = default;
  ScrapeFilter(std::initializer_list<std::string_view> names);
  // Keeps samples named exactly `name` (e.g. "vllm:num_requests_waiting").
  void add(std::string_view name);
  // Keeps the samples of family `name`: `name` and `name` + _total, _bucket, _sum and _count.
  void add_family(std::string_view name);
  bool wants(std::string_view sample_name) const;
  // Whether HELP/TYPE lines for this family name are kept: names given to add() or add_family().
  bool wants_metadata(std::string_view family_name) const;

 private:
  void insert(std::unordered_set<std::string_view>& set, std::string name);

  std::vector<std::unique_ptr<std::string>> storage_;  // owns what the sets view; pointer-stable
  std::unordered_set<std::string_view> samples_;
  std::unordered_set<std::string_view> families_;
  uint64_t lengths_[4] = {};  // bitmap of wanted sample name lengths < 256: rejects most lines cheaply
  bool long_names_ = false;   // a wanted name is 256 bytes or longer
};

enum class OnError {
  kFail,      // stop at the first malformed line and return an error naming it
  kSkipLine,  // skip malformed lines, count them in Page::skipped_lines() and keep the first error
};

struct ParseOptions {
  OnError on_error = OnError::kFail;
  const ScrapeFilter* filter = nullptr;  // null: keep everything
};

// The parsed form of one exposition. Reuse one Page per scrape loop: parse() clears it but keeps its
// capacity, so steady-state parsing does not allocate. Views point into the parsed text (keep it alive)
// and into the Page itself (valid until the next parse()).
class Page {
 public:
  std::span<const Sample> samples() const { return samples_; }
  std::span<const Label> labels() const { return labels_; }
  std::span<const Label> labels(const Sample& s) const {
    return std::span<const Label>(labels_).subspan(s.label_begin, s.label_count);
  }
  // The value of label `name` on `s`, if present.
  std::optional<std::string_view> label(const Sample& s, std::string_view name) const;
  // The first sample named `name`, or null.
  const Sample* find(std::string_view name) const;
  std::span<const FamilyInfo> families() const { return families_; }
  const FamilyInfo* family(std::string_view name) const;

  // Input lines seen, and (OnError::kSkipLine) lines skipped as malformed and the first such error.
  size_t lines() const { return lines_; }
  size_t skipped_lines() const { return skipped_lines_; }
  const std::string& first_error() const { return first_error_; }

  void clear();

 private:
  friend class PageBuilder;

  std::vector<Sample> samples_;
  std::vector<Label> labels_;
  std::vector<FamilyInfo> families_;
  // Unescaped strings. Sized to the input before parsing: an unescaped string is never longer than
  // its escaped form, so appends never reallocate and views into it stay valid.
  std::unique_ptr<char[]> scratch_;
  size_t scratch_capacity_ = 0;
  size_t scratch_size_ = 0;
  size_t lines_ = 0;
  size_t skipped_lines_ = 0;
  std::string first_error_;
};

// Parses `text` into `page` (cleared first). Fails with ErrorCode::kProtocol and a message
// "line N: ..." on the first malformed line under OnError::kFail; never fails under kSkipLine except
// for input over 4 GiB. Never crashes on any input.
Result<void> parse(std::string_view text, Page& page, const ParseOptions& options = {});

}  // namespace llmd::metrics
