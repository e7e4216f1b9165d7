#include "tokenizer/normalizer.h"

#include <vector>

#include <fmt/format.h>

#include "tokenizer/json_util.h"
#include "tokenizer/unicode.h"

namespace llmd::tokenizer {
namespace {

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch&) const override {
    out.clear();
    append_normalized(in, form_, out);
    return {};
  }

 private:
  NormalForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch&) const override {
    out.clear();
    append_lowercase(in, out);
    return {};
  }
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch&) const override {
    out.clear();
    if (!in.empty()) out.append(prepend_);
    out.append(in);
    return {};
  }

 private:
  std::string prepend_;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch&) const override {
    size_t b = 0, e = in.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!is_white_space(next_code_point(in, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t s = e - 1;
        while (s > b && (static_cast<unsigned char>(in[s]) & 0xC0u) == 0x80u) --s;
        size_t i = s;
        if (!is_white_space(next_code_point(in, i))) break;
        e = s;
      }
    }
    out.assign(in.substr(b, e - b));
    return {};
  }

 private:
  bool left_, right_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::string literal, std::unique_ptr<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}

  Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch& scratch) const override {
    out.clear();
    if (!regex_) {
      size_t pos = 0;
      while (true) {
        const size_t at = in.find(literal_, pos);
        if (at == std::string_view::npos) break;
        out.append(in.substr(pos, at - pos));
        out.append(content_);
        pos = at + literal_.size();
      }
      out.append(in.substr(pos));
      return {};
    }
    size_t pos = 0;
    auto r = regex_->for_each_match(in, scratch.regex, [&](size_t s, size_t e) {
      out.append(in.substr(pos, s - pos));
      out.append(content_);
      pos = e;
    });
    if (!r) return r;
    out.append(in.substr(pos));
    return {};
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}

  std::vector<std::unique_ptr<Normalizer>> take_parts() { return std::move(parts_); }

  Result<void> normalize(std::string_view in, std::string& out, NormalizeScratch& scratch) const override {
    if (parts_.empty()) {
      out.assign(in);
      return {};
    }
    // Ping-pong between the two temporaries; the last step writes to `out`.
    std::string_view cur = in;
    for (size_t i = 0; i < parts_.size(); ++i) {
      std::string& dst = i + 1 == parts_.size() ? out : scratch.tmp[i % 2];
      auto r = parts_[i]->normalize(cur, dst, scratch);
      if (!r) return r;
      cur = dst;
    }
    return {};
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

Result<PatternSpec> parse_pattern(const boost::json::value& v, const std::string& path) {
  auto obj = json::as_object(v, path);
  if (!obj) return obj.error();
  PatternSpec spec;
  if (const auto* s = json::find(**obj, "String")) {
    if (!s->is_string()) return json::type_error(json::child(path, "String"), "string");
    spec.text = std::string(s->get_string());
    if (spec.text.empty())
      return make_error(ErrorCode::kConfig, fmt::format("{}.String: empty pattern", path));
    return spec;
  }
  if (const auto* r = json::find(**obj, "Regex")) {
    if (!r->is_string()) return json::type_error(json::child(path, "Regex"), "string");
    spec.is_regex = true;
    spec.text = std::string(r->get_string());
    return spec;
  }
  return make_error(ErrorCode::kConfig,
                    fmt::format("{}: expected {{\"String\": ...}} or {{\"Regex\": ...}}", path));
}

Result<std::unique_ptr<Normalizer>> parse_normalizer(const boost::json::value& v, const std::string& path) {
  auto obj_r = json::as_object(v, path);
  if (!obj_r) return obj_r.error();
  const auto& obj = **obj_r;
  auto type = json::get_string(obj, "type", path);
  if (!type) return type.error();
  const std::string& t = *type;
  if (t == "NFC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfc));
  if (t == "NFD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfd));
  if (t == "NFKC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfkc));
  if (t == "NFKD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfkd));
  if (t == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
  if (t == "Prepend") {
    auto p = json::get_string(obj, "prepend", path);
    if (!p) return p.error();
    return std::unique_ptr<Normalizer>(new PrependNormalizer(*p));
  }
  if (t == "Strip") {
    auto l = json::get_bool(obj, "strip_left", path, false);
    if (!l) return l.error();
    auto r = json::get_bool(obj, "strip_right", path, false);
    if (!r) return r.error();
    return std::unique_ptr<Normalizer>(new StripNormalizer(*l, *r));
  }
  if (t == "Replace") {
    const auto* pv = json::find(obj, "pattern");
    if (pv == nullptr) return json::type_error(json::child(path, "pattern"), "pattern object");
    auto spec = parse_pattern(*pv, json::child(path, "pattern"));
    if (!spec) return spec.error();
    auto content = json::get_string(obj, "content", path);
    if (!content) return content.error();
    if (!spec->is_regex)
      return std::unique_ptr<Normalizer>(new ReplaceNormalizer(spec->text, nullptr, *content));
    auto re = Regex::compile(spec->text);
    if (!re) {
      return make_error(ErrorCode::kConfig, fmt::format("{}.pattern.Regex: {}", path, re.error().message));
    }
    return std::unique_ptr<Normalizer>(new ReplaceNormalizer({}, std::move(*re), *content));
  }
  if (t == "Sequence") {
    const auto* arr_v = json::find(obj, "normalizers");
    if (arr_v == nullptr) return json::type_error(json::child(path, "normalizers"), "array");
    auto arr = json::as_array(*arr_v, json::child(path, "normalizers"));
    if (!arr) return arr.error();
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < (*arr)->size(); ++i) {
      auto n = parse_normalizer((**arr)[i], json::index(json::child(path, "normalizers"), i));
      if (!n) return n.error();
      // Nested sequences are flattened so that one pair of temporaries serves every level.
      if (auto* seq = dynamic_cast<SequenceNormalizer*>(n->get())) {
        for (auto& p : seq->take_parts()) parts.push_back(std::move(p));
      } else {
        parts.push_back(std::move(*n));
      }
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(parts)));
  }
  return make_error(ErrorCode::kConfig, fmt::format("{}.type: unsupported normalizer '{}'", path, t));
}

}  // namespace llmd::tokenizer
