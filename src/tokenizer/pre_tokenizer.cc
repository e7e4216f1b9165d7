#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include <fmt/format.h>

#include "tokenizer/json_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"

namespace llmd::tokenizer {
namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Result<Behavior> parse_behavior(const boost::json::object& obj, const std::string& path, Behavior dflt) {
  const auto* v = json::find(obj, "behavior");
  if (v == nullptr) return dflt;
  if (!v->is_string()) return json::type_error(json::child(path, "behavior"), "string");
  const std::string_view s = v->get_string();
  if (s == "Removed") return Behavior::kRemoved;
  if (s == "Isolated") return Behavior::kIsolated;
  if (s == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::kMergedWithNext;
  if (s == "Contiguous") return Behavior::kContiguous;
  return make_error(ErrorCode::kConfig, fmt::format("{}.behavior: unknown value '{}'", path, s));
}

// Adds the non-matching gap before `start`, then the match, to `spans`.
inline void push_match(std::vector<Span>& spans, uint32_t& prev, uint32_t start, uint32_t end) {
  if (prev != start) spans.push_back({prev, start, false});
  spans.push_back({start, end, true});
  prev = end;
}

// Spans for a per-character predicate: every matching character is its own match.
template <class Pred>
void char_spans(std::string_view text, Pred pred, std::vector<Span>& spans) {
  spans.clear();
  uint32_t prev = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    const uint32_t cp = next_code_point(text, i);
    if (pred(cp)) push_match(spans, prev, static_cast<uint32_t>(start), static_cast<uint32_t>(i));
  }
  if (prev != text.size()) spans.push_back({prev, static_cast<uint32_t>(text.size()), false});
}

// Applies a split behavior to spans that cover the text (Hugging Face's NormalizedString::split),
// then emits the non-empty pieces that are kept.
Result<void> emit_split(const Piece& parent, std::vector<Span>& spans, std::vector<Span>& merged,
                        Behavior behavior, PieceSink emit) {
  merged.clear();
  switch (behavior) {
    case Behavior::kIsolated:
      for (const auto& s : spans) merged.push_back({s.start, s.end, false});
      break;
    case Behavior::kRemoved:
      for (const auto& s : spans) merged.push_back(s);
      break;
    case Behavior::kContiguous: {
      bool previous = false;
      for (const auto& s : spans) {
        if (s.match == previous && !merged.empty()) {
          merged.back().end = s.end;
        } else {
          merged.push_back({s.start, s.end, false});
        }
        previous = s.match;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool previous = false;
      for (const auto& s : spans) {
        if (s.match && !previous && !merged.empty()) {
          merged.back().end = s.end;
        } else {
          merged.push_back({s.start, s.end, false});
        }
        previous = s.match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool previous = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous && !merged.empty()) {
          merged.back().start = it->start;
        } else {
          merged.push_back({it->start, it->end, false});
        }
        previous = it->match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    }
  }
  for (const auto& m : merged) {
    // Removed: `match` marks what to drop. Other behaviors cleared it above.
    if (m.match || m.end == m.start) continue;
    Piece p{parent.text.substr(m.start, m.end - m.start), parent.at_origin && m.start == 0, parent.raw_bytes};
    auto r = emit(p);
    if (!r) return r;
  }
  return {};
}

class SplitStep final : public PreTokenizerStep {
 public:
  SplitStep(std::string literal, std::unique_ptr<Regex> regex, Behavior behavior, bool invert)
      : literal_(std::move(literal)), regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}

  Result<void> run(Piece in, EncodeScratch::Impl& s, size_t level, PieceSink emit) const override {
    auto& spans = s.levels[level].spans;
    spans.clear();
    uint32_t prev = 0;
    if (regex_) {
      auto r = regex_->for_each_match(in.text, s.regex, [&](size_t a, size_t b) {
        push_match(spans, prev, static_cast<uint32_t>(a), static_cast<uint32_t>(b));
      });
      if (!r) return r;
    } else {
      size_t pos = 0;
      while (true) {
        const size_t at = in.text.find(literal_, pos);
        if (at == std::string_view::npos) break;
        push_match(spans, prev, static_cast<uint32_t>(at), static_cast<uint32_t>(at + literal_.size()));
        pos = at + literal_.size();
      }
    }
    if (prev != in.text.size()) spans.push_back({prev, static_cast<uint32_t>(in.text.size()), false});
    if (invert_) {
      for (auto& sp : spans) sp.match = !sp.match;
    }
    return emit_split(in, spans, s.levels[level].merged, behavior_, emit);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  Behavior behavior_;
  bool invert_;
};

template <class Pred>
class CharSplitStep final : public PreTokenizerStep {
 public:
  CharSplitStep(Pred pred, Behavior behavior) : pred_(pred), behavior_(behavior) {}
  Result<void> run(Piece in, EncodeScratch::Impl& s, size_t level, PieceSink emit) const override {
    char_spans(in.text, pred_, s.levels[level].spans);
    return emit_split(in, s.levels[level].spans, s.levels[level].merged, behavior_, emit);
  }

 private:
  Pred pred_;
  Behavior behavior_;
};

template <class Pred>
std::unique_ptr<PreTokenizerStep> make_char_split(Pred pred, Behavior behavior) {
  return std::unique_ptr<PreTokenizerStep>(new CharSplitStep<Pred>(pred, behavior));
}

// Hugging Face's Whitespace pre-tokenizer: keeps the matches of \w+|[^\w\s]+ and drops the rest.
class WhitespaceStep final : public PreTokenizerStep {
 public:
  explicit WhitespaceStep(std::unique_ptr<Regex> regex) : regex_(std::move(regex)) {}
  Result<void> run(Piece in, EncodeScratch::Impl& s, size_t level, PieceSink emit) const override {
    auto& spans = s.levels[level].spans;
    spans.clear();
    uint32_t prev = 0;
    auto r = regex_->for_each_match(in.text, s.regex, [&](size_t a, size_t b) {
      push_match(spans, prev, static_cast<uint32_t>(a), static_cast<uint32_t>(b));
    });
    if (!r) return r;
    if (prev != in.text.size()) spans.push_back({prev, static_cast<uint32_t>(in.text.size()), false});
    for (auto& sp : spans) sp.match = !sp.match;  // Invert + Removed
    return emit_split(in, spans, s.levels[level].merged, Behavior::kRemoved, emit);
  }

 private:
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspaceStep final : public PreTokenizerStep {
 public:
  MetaspaceStep(uint32_t replacement, PrependScheme scheme, bool split)
      : replacement_cp_(replacement), scheme_(scheme), split_(split) {
    append_utf8(replacement_, replacement);
  }

  Result<void> run(Piece in, EncodeScratch::Impl& s, size_t level, PieceSink emit) const override {
    std::string& buf = s.levels[level].a;
    buf.clear();
    const bool starts_with_rep_or_space =
        !in.text.empty() && (in.text[0] == ' ' || in.text.substr(0, replacement_.size()) == replacement_);
    const bool prepend = !starts_with_rep_or_space && (scheme_ == PrependScheme::kAlways ||
                                                       (scheme_ == PrependScheme::kFirst && in.at_origin));
    if (prepend) buf.append(replacement_);
    for (char c : in.text) {
      if (c == ' ') {
        buf.append(replacement_);
      } else {
        buf.push_back(c);
      }
    }
    Piece p{buf, in.at_origin, in.raw_bytes};
    if (!split_) return emit(p);
    const uint32_t rep = replacement_cp_;
    char_spans(
        p.text, [rep](uint32_t cp) { return cp == rep; }, s.levels[level].spans);
    return emit_split(p, s.levels[level].spans, s.levels[level].merged, Behavior::kMergedWithNext, emit);
  }

 private:
  uint32_t replacement_cp_;
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

}  // namespace

ByteLevelTable::ByteLevelTable() {
  std::fill(std::begin(reverse_), std::end(reverse_), static_cast<int16_t>(-1));
  uint32_t n = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const uint32_t cp = printable ? b : 256 + n++;
    std::string tmp;
    append_utf8(tmp, cp);
    std::copy(tmp.begin(), tmp.end(), storage_[b]);
    chars[b] = std::string_view(storage_[b], tmp.size());
    reverse_[cp] = static_cast<int16_t>(b);
  }
}

int ByteLevelTable::byte_of(uint32_t cp) const { return cp < 324 ? reverse_[cp] : -1; }

const ByteLevelTable& ByteLevelTable::get() {
  static const ByteLevelTable table;
  return table;
}

class ByteLevelStep final : public PreTokenizerStep {
 public:
  ByteLevelStep(bool add_prefix_space, std::unique_ptr<Regex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}

  void set_raw_output() { raw_output_ = true; }

  Result<void> run(Piece in, EncodeScratch::Impl& s, size_t level, PieceSink emit) const override {
    auto& lv = s.levels[level];
    Piece p = in;
    if (add_prefix_space_ && (in.text.empty() || in.text[0] != ' ')) {
      lv.a.clear();
      lv.a.push_back(' ');
      lv.a.append(in.text);
      p.text = lv.a;
    }
    auto map_and_emit = [&](Piece sub) -> Result<void> {
      if (raw_output_) {
        sub.raw_bytes = true;
        return emit(sub);
      }
      const auto& table = ByteLevelTable::get();
      lv.b.clear();
      for (char c : sub.text) lv.b.append(table.chars[static_cast<unsigned char>(c)]);
      sub.text = lv.b;
      return emit(sub);
    };
    if (!regex_) return map_and_emit(p);
    auto& spans = lv.spans;
    spans.clear();
    uint32_t prev = 0;
    auto r = regex_->for_each_match(p.text, s.regex, [&](size_t a, size_t b) {
      push_match(spans, prev, static_cast<uint32_t>(a), static_cast<uint32_t>(b));
    });
    if (!r) return r;
    if (prev != p.text.size()) spans.push_back({prev, static_cast<uint32_t>(p.text.size()), false});
    return emit_split(p, spans, lv.merged, Behavior::kIsolated, map_and_emit);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
  bool raw_output_ = false;
};

bool is_byte_level_step(const PreTokenizerStep& step) {
  return dynamic_cast<const ByteLevelStep*>(&step) != nullptr;
}

bool set_byte_level_raw_output(PreTokenizerStep& step) {
  auto* bl = dynamic_cast<ByteLevelStep*>(&step);
  if (bl == nullptr) return false;
  bl->set_raw_output();
  return true;
}

Result<void> run_pre_tokenizers(const std::vector<std::unique_ptr<PreTokenizerStep>>& steps, size_t i,
                                Piece piece, EncodeScratch::Impl& scratch, PieceSink sink) {
  if (i == steps.size()) return sink(piece);
  return steps[i]->run(piece, scratch, i, [&](Piece next) -> Result<void> {
    return run_pre_tokenizers(steps, i + 1, next, scratch, sink);
  });
}

namespace {

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

Result<std::unique_ptr<Regex>> compile_at(std::string_view pattern, const std::string& path) {
  auto re = Regex::compile(pattern);
  if (!re) return make_error(ErrorCode::kConfig, fmt::format("{}: {}", path, re.error().message));
  return std::move(*re);
}

}  // namespace

Result<void> parse_pre_tokenizer(const boost::json::value& v, const std::string& path,
                                 std::vector<std::unique_ptr<PreTokenizerStep>>& out) {
  auto obj_r = json::as_object(v, path);
  if (!obj_r) return obj_r.error();
  const auto& obj = **obj_r;
  auto type = json::get_string(obj, "type", path);
  if (!type) return type.error();
  const std::string& t = *type;
  if (t == "Sequence") {
    const std::string key_path = json::child(path, "pretokenizers");
    const auto* arr_v = json::find(obj, "pretokenizers");
    if (arr_v == nullptr) return json::type_error(key_path, "array");
    auto arr = json::as_array(*arr_v, key_path);
    if (!arr) return arr.error();
    for (size_t i = 0; i < (*arr)->size(); ++i) {
      auto r = parse_pre_tokenizer((**arr)[i], json::index(key_path, i), out);
      if (!r) return r;
    }
    return {};
  }
  if (t == "Split") {
    const auto* pv = json::find(obj, "pattern");
    if (pv == nullptr) return json::type_error(json::child(path, "pattern"), "pattern object");
    auto spec = parse_pattern(*pv, json::child(path, "pattern"));
    if (!spec) return spec.error();
    auto behavior = parse_behavior(obj, path, Behavior::kIsolated);
    if (!behavior) return behavior.error();
    auto invert = json::get_bool(obj, "invert", path, false);
    if (!invert) return invert.error();
    std::unique_ptr<Regex> re;
    if (spec->is_regex) {
      auto c = compile_at(spec->text, json::child(path, "pattern.Regex"));
      if (!c) return c.error();
      re = std::move(*c);
    }
    out.emplace_back(
        new SplitStep(spec->is_regex ? std::string() : spec->text, std::move(re), *behavior, *invert));
    return {};
  }
  if (t == "ByteLevel") {
    auto aps = json::get_bool(obj, "add_prefix_space", path, true);
    if (!aps) return aps.error();
    auto use_regex = json::get_bool(obj, "use_regex", path, true);
    if (!use_regex) return use_regex.error();
    std::unique_ptr<Regex> re;
    if (*use_regex) {
      auto c = compile_at(kGpt2Pattern, path);
      if (!c) return c.error();
      re = std::move(*c);
    }
    out.emplace_back(new ByteLevelStep(*aps, std::move(re)));
    return {};
  }
  if (t == "Metaspace") {
    auto rep = json::get_string(obj, "replacement", path);
    if (!rep) return rep.error();
    if (rep->empty() || !is_valid_utf8(*rep) ||
        utf8_length(static_cast<unsigned char>((*rep)[0])) != rep->size()) {
      return make_error(ErrorCode::kConfig, fmt::format("{}.replacement: expected one character", path));
    }
    size_t i = 0;
    const uint32_t cp = next_code_point(*rep, i);
    PrependScheme scheme = PrependScheme::kAlways;
    auto ps = json::get_optional_string(obj, "prepend_scheme", path);
    if (!ps) return ps.error();
    if (*ps) {
      if (**ps == "always") {
        scheme = PrependScheme::kAlways;
      } else if (**ps == "first") {
        scheme = PrependScheme::kFirst;
      } else if (**ps == "never") {
        scheme = PrependScheme::kNever;
      } else {
        return make_error(ErrorCode::kConfig,
                          fmt::format("{}.prepend_scheme: unknown value '{}'", path, **ps));
      }
    } else {
      auto aps = json::get_bool(obj, "add_prefix_space", path, true);
      if (!aps) return aps.error();
      scheme = *aps ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    auto split = json::get_bool(obj, "split", path, true);
    if (!split) return split.error();
    out.emplace_back(new MetaspaceStep(cp, scheme, *split));
    return {};
  }
  if (t == "Digits") {
    auto individual = json::get_bool(obj, "individual_digits", path, false);
    if (!individual) return individual.error();
    out.push_back(make_char_split([](uint32_t cp) { return is_numeric(cp); },
                                  *individual ? Behavior::kIsolated : Behavior::kContiguous));
    return {};
  }
  if (t == "Whitespace") {
    auto c = compile_at(R"(\w+|[^\w\s]+)", path);
    if (!c) return c.error();
    out.emplace_back(new WhitespaceStep(std::move(*c)));
    return {};
  }
  if (t == "WhitespaceSplit") {
    out.push_back(make_char_split([](uint32_t cp) { return is_white_space(cp); }, Behavior::kRemoved));
    return {};
  }
  if (t == "Punctuation") {
    auto behavior = parse_behavior(obj, path, Behavior::kIsolated);
    if (!behavior) return behavior.error();
    out.push_back(make_char_split([](uint32_t cp) { return is_punctuation(cp); }, *behavior));
    return {};
  }
  return make_error(ErrorCode::kConfig, fmt::format("{}.type: unsupported pre-tokenizer '{}'", path, t));
}

}  // namespace llmd::tokenizer
