#include "metrics/parser.h"

#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

namespace llmd::metrics {
namespace {

constexpr uint8_t kNameStart = 1;   // [a-zA-Z_:]
constexpr uint8_t kNameChar = 2;    // [a-zA-Z0-9_:]
constexpr uint8_t kLabelStart = 4;  // [a-zA-Z_]
constexpr uint8_t kLabelChar = 8;   // [a-zA-Z0-9_]

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    uint8_t v = 0;
    if (alpha || c == ':') v |= kNameStart | kNameChar;
    if (digit) v |= kNameChar | kLabelChar;
    if (alpha) v |= kLabelStart | kLabelChar;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = make_classes();

inline bool has(char c, uint8_t cls) { return (kClasses[static_cast<unsigned char>(c)] & cls) != 0; }
inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline const char* skip_blanks(const char* p, const char* end) {
  while (p < end && is_blank(*p)) ++p;
  return p;
}
inline const char* skip_token(const char* p, const char* end) {
  while (p < end && !is_blank(*p)) ++p;
  return p;
}

// Exact fast path for what most samples hold: an integer below 2^53, optionally followed by a fraction
// of zeros ("1234", "1234.0"), which is the double it spells. Returns false to defer to from_chars.
inline bool parse_small_integer(const char* b, const char* e, double& out) {
  const bool negative = b < e && *b == '-';
  const char* p = b + (negative ? 1 : 0);
  const char* digits = p;
  uint64_t v = 0;
  while (p < e && static_cast<unsigned>(*p - '0') < 10 && p - digits < 15)
    v = v * 10 + static_cast<unsigned>(*p++ - '0');
  if (p == digits) return false;
  if (p < e && *p == '.') {
    ++p;
    while (p < e && *p == '0') ++p;
  }
  if (p != e) return false;
  out = negative ? -static_cast<double>(v) : static_cast<double>(v);
  return true;
}

// Go's ParseFloat spelling: from_chars plus an optional leading '+'. Out-of-range values are errors.
bool parse_double(const char* b, const char* e, double& out) {
  if (parse_small_integer(b, e, out)) return true;
  if (b < e && *b == '+') {
    ++b;
    if (b < e && (*b == '-' || *b == '+')) return false;
  }
  if (b == e) return false;
  auto [ptr, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && ptr == e;
}

// Finds the first '"' or '\\' eight bytes at a time: label values (model names, paths) are often long.
// The zero-byte test below is exact for the lowest matching byte, which is the one taken.
const char* find_quote_or_backslash(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    const uint64_t q = v ^ (kOnes * '"');
    const uint64_t b = v ^ (kOnes * '\\');
    const uint64_t hit = (((q - kOnes) & ~q) | ((b - kOnes) & ~b)) & kHighs;
    if (hit != 0) {
      if constexpr (std::endian::native == std::endian::little) {
        return p + (std::countr_zero(hit) >> 3);
      } else {
        break;  // finish bytewise
      }
    }
    p += 8;
  }
  while (p < end && *p != '"' && *p != '\\') ++p;
  return p;
}

// If [p, end) starts with `prev` followed by a byte outside `cls`, returns the length of `prev`, else 0.
// Consecutive lines repeat names (a histogram's buckets), and memcmp beats a per-byte class check.
inline size_t repeats(std::string_view prev, const char* p, const char* end, uint8_t cls) {
  const size_t n = prev.size();
  if (n == 0 || static_cast<size_t>(end - p) < n) return 0;
  // Inline word compare: names are short enough that a memcmp call costs more than the compare.
  const char* q = prev.data();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, q + i, 8);
    if (a != b) return 0;
  }
  for (; i < n; ++i) {
    if (p[i] != q[i]) return 0;
  }
  return (p + n == end || !has(p[n], cls)) ? n : 0;
}

bool parse_int64(const char* b, const char* e, int64_t& out) {
  if (b < e && *b == '+') {
    ++b;
    if (b < e && (*b == '-' || *b == '+')) return false;
  }
  if (b == e) return false;
  auto [ptr, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && ptr == e;
}

}  // namespace

// Parses line by line into a Page. Errors are static strings until the caller formats one, so the
// success path never allocates beyond the Page's growth.
class PageBuilder {
 public:
  PageBuilder(Page& page, const ParseOptions& options) : page_(page), options_(options) {}

  Result<void> run(std::string_view text) {
    page_.clear();
    if (text.size() > std::numeric_limits<uint32_t>::max()) {
      return make_error(ErrorCode::kResourceExhausted, "exposition larger than 4 GiB");
    }
    if (page_.scratch_capacity_ < text.size()) {
      page_.scratch_ = std::make_unique<char[]>(text.size());
      page_.scratch_capacity_ = text.size();
    }
    const char* p = text.data();
    const char* const end = p + text.size();
    uint32_t line = 0;
    while (p < end) {
      ++line;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      const char* line_end = nl != nullptr ? nl : end;
      const char* content_end = line_end;
      if (content_end > p && content_end[-1] == '\r') --content_end;

      const size_t labels_mark = page_.labels_.size();
      const size_t scratch_mark = page_.scratch_size_;
      if (const char* err = parse_line(p, content_end, line); err != nullptr) {
        std::string message = "line " + std::to_string(line) + ": " + err;
        if (options_.on_error == OnError::kFail) {
          page_.lines_ = line;
          return make_error(ErrorCode::kProtocol, std::move(message));
        }
        page_.labels_.resize(labels_mark);
        page_.scratch_size_ = scratch_mark;
        if (page_.skipped_lines_++ == 0) page_.first_error_ = std::move(message);
      }
      p = line_end + 1;
    }
    page_.lines_ = line;
    return {};
  }

 private:
  const char* parse_line(const char* p, const char* end, uint32_t line) {
    p = skip_blanks(p, end);
    if (p == end) return nullptr;
    if (*p == '#') return parse_comment(p + 1, end);
    return parse_sample(p, end, line);
  }

  const char* parse_comment(const char* p, const char* end) {
    p = skip_blanks(p, end);
    const char* kw = p;
    p = skip_token(p, end);
    const std::string_view keyword(kw, static_cast<size_t>(p - kw));
    const bool help = keyword == "HELP";
    if (!help && keyword != "TYPE") return nullptr;  // a plain comment
    p = skip_blanks(p, end);
    const char* name_begin = p;
    if (p == end || !has(*p, kNameStart)) return "invalid metric name in HELP or TYPE line";
    while (p < end && has(*p, kNameChar)) ++p;
    if (p < end && !is_blank(*p)) return "invalid metric name in HELP or TYPE line";
    const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    if (options_.filter != nullptr && !options_.filter->wants_metadata(name)) return nullptr;
    p = skip_blanks(p, end);
    if (help) {
      const std::string_view text = unescape_help(p, end);
      FamilyInfo& info = info_for(name);
      info.help = text;
      info.has_help = true;
      return nullptr;
    }
    const char* type_begin = p;
    p = skip_token(p, end);
    MetricType type;
    if (!parse_metric_type(std::string_view(type_begin, static_cast<size_t>(p - type_begin)), type)) {
      return "unknown metric type in TYPE line";
    }
    if (skip_blanks(p, end) != end) return "unexpected text after TYPE";
    FamilyInfo& info = info_for(name);
    info.type = type;
    info.has_type = true;
    return nullptr;
  }

  const char* parse_sample(const char* p, const char* end, uint32_t line) {
    const char* name_begin = p;
    const size_t repeated = repeats(prev_name_, p, end, kNameChar);
    if (repeated != 0) {
      p += repeated;
    } else {
      if (!has(*p, kNameStart)) return "invalid metric name";
      ++p;
      while (p < end && has(*p, kNameChar)) ++p;
    }
    const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    prev_name_ = name;
    if (options_.filter != nullptr) {
      // Runs of one name (histogram buckets, labelled series) reuse the previous line's answer.
      if (repeated == 0) prev_wanted_ = options_.filter->wants(name);
      if (!prev_wanted_) return nullptr;
    }

    Sample sample;
    sample.name = name;
    sample.line = line;
    sample.label_begin = static_cast<uint32_t>(page_.labels_.size());
    p = skip_blanks(p, end);
    if (p < end && *p == '{') {
      if (const char* err = parse_labels(p + 1, end, sample.label_begin, p); err != nullptr) return err;
      p = skip_blanks(p, end);
    }
    sample.label_count = static_cast<uint32_t>(page_.labels_.size() - sample.label_begin);

    const char* value_begin = p;
    p = skip_token(p, end);
    if (p == value_begin) return "missing value";
    if (!parse_double(value_begin, p, sample.value)) return "invalid value";
    p = skip_blanks(p, end);
    if (p < end) {
      const char* ts_begin = p;
      p = skip_token(p, end);
      if (!parse_int64(ts_begin, p, sample.timestamp_ms)) return "invalid timestamp";
      sample.has_timestamp = true;
      if (skip_blanks(p, end) != end) return "unexpected text after timestamp";
    }
    page_.samples_.push_back(sample);
    return nullptr;
  }

  // Parses `name="value",...}` from just after '{'; sets `out` just past '}'.
  const char* parse_labels(const char* p, const char* end, uint32_t first_label, const char*& out) {
    for (;;) {
      p = skip_blanks(p, end);
      if (p == end) return "unterminated label set";
      if (*p == '}') break;
      const char* lname_begin = p;
      if (!has(*p, kLabelStart)) return "invalid label name";
      ++p;
      while (p < end && has(*p, kLabelChar)) ++p;
      const std::string_view lname(lname_begin, static_cast<size_t>(p - lname_begin));
      p = skip_blanks(p, end);
      if (p == end || *p != '=') return "expected '=' after label name";
      p = skip_blanks(p + 1, end);
      if (p == end || *p != '"') return "expected '\"' to open label value";
      ++p;
      const char* value_begin = p;
      p = find_quote_or_backslash(p, end);
      if (p == end) return "unterminated label value";
      std::string_view value;
      if (*p == '"') {
        value = std::string_view(value_begin, static_cast<size_t>(p - value_begin));
        ++p;
      } else if (const char* err = unescape_label_value(value_begin, p, end, value); err != nullptr) {
        return err;
      }
      for (size_t i = first_label; i < page_.labels_.size(); ++i) {
        if (page_.labels_[i].name == lname) return "duplicate label name";
      }
      page_.labels_.push_back(Label{lname, value});
      p = skip_blanks(p, end);
      if (p < end && *p == ',') {
        ++p;
        continue;
      }
      if (p == end) return "unterminated label set";
      if (*p == '}') break;
      return "expected ',' or '}' after label value";
    }
    out = p + 1;
    return nullptr;
  }

  // Copies a label value holding escapes into scratch. `p` is at the first backslash; on success it is
  // left just past the closing quote.
  const char* unescape_label_value(const char* begin, const char*& p, const char* end,
                                   std::string_view& value) {
    char* const out = page_.scratch_.get() + page_.scratch_size_;
    size_t n = static_cast<size_t>(p - begin);
    std::memcpy(out, begin, n);
    while (p < end) {
      const char c = *p;
      if (c == '"') {
        value = std::string_view(out, n);
        page_.scratch_size_ += n;
        ++p;
        return nullptr;
      }
      if (c == '\\') {
        if (p + 1 == end) break;
        const char e = p[1];
        if (e == '\\' || e == '"') {
          out[n++] = e;
        } else if (e == 'n') {
          out[n++] = '\n';
        } else {
          return "invalid escape in label value";
        }
        p += 2;
        continue;
      }
      out[n++] = c;
      ++p;
    }
    return "unterminated label value";
  }

  // HELP text: \\ and \n are escapes; any other backslash is kept as written.
  std::string_view unescape_help(const char* p, const char* end) {
    const void* bs = std::memchr(p, '\\', static_cast<size_t>(end - p));
    if (bs == nullptr) return std::string_view(p, static_cast<size_t>(end - p));
    char* const out = page_.scratch_.get() + page_.scratch_size_;
    size_t n = 0;
    while (p < end) {
      if (*p == '\\' && p + 1 < end && (p[1] == '\\' || p[1] == 'n')) {
        out[n++] = p[1] == 'n' ? '\n' : '\\';
        p += 2;
      } else {
        out[n++] = *p++;
      }
    }
    page_.scratch_size_ += n;
    return std::string_view(out, n);
  }

  FamilyInfo& info_for(std::string_view name) {
    // HELP and TYPE of one family are adjacent in practice; a repeated family elsewhere gets a new entry.
    if (!page_.families_.empty() && page_.families_.back().name == name) return page_.families_.back();
    page_.families_.push_back(FamilyInfo{name});
    return page_.families_.back();
  }

  Page& page_;
  const ParseOptions& options_;
  std::string_view prev_name_;  // the name on the last sample line
  bool prev_wanted_ = false;    // the filter's answer for prev_name_
};

Result<void> parse(std::string_view text, Page& page, const ParseOptions& options) {
  return PageBuilder(page, options).run(text);
}

void Page::clear() {
  samples_.clear();
  labels_.clear();
  families_.clear();
  scratch_size_ = 0;
  lines_ = 0;
  skipped_lines_ = 0;
  first_error_.clear();
}

std::optional<std::string_view> Page::label(const Sample& s, std::string_view name) const {
  for (const Label& l : labels(s)) {
    if (l.name == name) return l.value;
  }
  return std::nullopt;
}

const Sample* Page::find(std::string_view name) const {
  for (const Sample& s : samples_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const FamilyInfo* Page::family(std::string_view name) const {
  for (const FamilyInfo& f : families_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

ScrapeFilter::ScrapeFilter(std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) add(n);
}

void ScrapeFilter::insert(std::unordered_set<std::string_view>& set, std::string name) {
  if (set.count(name) != 0) return;
  storage_.push_back(std::make_unique<std::string>(std::move(name)));
  const std::string& stored = *storage_.back();
  set.insert(stored);
  if (&set == &samples_) {
    if (stored.size() < 256) {
      lengths_[stored.size() >> 6] |= uint64_t{1} << (stored.size() & 63);
    } else {
      long_names_ = true;
    }
  }
}

void ScrapeFilter::add(std::string_view name) {
  insert(samples_, std::string(name));
  insert(families_, std::string(name));
}

void ScrapeFilter::add_family(std::string_view name) {
  for (std::string_view suffix : {"", "_total", "_bucket", "_sum", "_count"}) {
    std::string n(name);
    n.append(suffix);
    insert(samples_, std::move(n));
  }
  insert(families_, std::string(name));
}

bool ScrapeFilter::wants(std::string_view sample_name) const {
  const size_t n = sample_name.size();
  if (n < 256) {
    if ((lengths_[n >> 6] & (uint64_t{1} << (n & 63))) == 0) return false;
  } else if (!long_names_) {
    return false;
  }
  return samples_.count(sample_name) != 0;
}

bool ScrapeFilter::wants_metadata(std::string_view family_name) const {
  return families_.count(family_name) != 0;
}

}  // namespace llmd::metrics
