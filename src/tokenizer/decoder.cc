#include "tokenizer/decoder.h"

#include <fmt/format.h>

#include "tokenizer/json_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace llmd::tokenizer {
namespace {

// Maps each byte-level character back to its byte; a token with any other character is taken as
// it is. The bytes are then read as UTF-8 with lossy replacement.
class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    const auto& table = ByteLevelTable::get();
    std::string bytes;
    std::string mapped;
    for (const auto& t : tokens) {
      mapped.clear();
      bool ok = true;
      size_t i = 0;
      while (i < t.size()) {
        const int b = table.byte_of(next_code_point(t, i));
        if (b < 0) {
          ok = false;
          break;
        }
        mapped.push_back(static_cast<char>(b));
      }
      bytes.append(ok ? mapped : t);
    }
    std::string out;
    append_lossy_utf8(bytes, out);
    tokens.assign(1, std::move(out));
  }
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(uint32_t replacement, bool prepend) : replacement_(replacement), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string out;
      const std::string& t = tokens[k];
      size_t i = 0;
      while (i < t.size()) {
        const size_t start = i;
        const uint32_t cp = next_code_point(t, i);
        if (cp == replacement_) {
          if (!(k == 0 && prepend_)) out.push_back(' ');
        } else {
          out.append(t, start, i - start);
        }
      }
      tokens[k] = std::move(out);
    }
  }

 private:
  uint32_t replacement_;
  bool prepend_;
};

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') byte = parse_hex_byte(t.substr(3, 2));
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  // Rust's u8::from_str_radix(s, 16): an optional '+' then hex digits.
  static int parse_hex_byte(std::string_view s) {
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    if (s.empty()) return -1;
    int v = 0;
    for (char c : s) {
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return -1;
      }
      v = v * 16 + d;
    }
    return v;
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string out;
    for (const auto& t : tokens) out.append(t);
    tokens.assign(1, std::move(out));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(uint32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::vector<std::pair<size_t, size_t>> chars;  // (offset, length)
      size_t i = 0;
      while (i < t.size()) {
        const size_t s = i;
        next_code_point(t, i);
        chars.emplace_back(s, i - s);
      }
      auto is_content = [&](size_t k) {
        size_t j = chars[k].first;
        return next_code_point(t, j) == content_;
      };
      size_t start_cut = 0;
      for (size_t k = 0; k < start_ && k < chars.size(); ++k) {
        if (!is_content(k)) break;
        start_cut = k + 1;
      }
      size_t stop_cut = chars.size();
      for (size_t k = 0; k < stop_ && k < chars.size(); ++k) {
        const size_t idx = chars.size() - k - 1;
        if (!is_content(idx)) break;
        stop_cut = idx;
      }
      if (start_cut >= stop_cut) {
        t.clear();
        continue;
      }
      const size_t b = chars[start_cut].first;
      const size_t e = stop_cut == chars.size() ? t.size() : chars[stop_cut].first;
      t = t.substr(b, e - b);
    }
  }

 private:
  uint32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::string literal, std::unique_ptr<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::string out;
      size_t pos = 0;
      if (regex_) {
        RegexScratch scratch;
        auto r = regex_->for_each_match(t, scratch, [&](size_t s, size_t e) {
          out.append(t, pos, s - pos);
          out.append(content_);
          pos = e;
        });
        if (!r) continue;  // leave the token as it is if the regex cannot run
      } else {
        while (true) {
          const size_t at = t.find(literal_, pos);
          if (at == std::string::npos) break;
          out.append(t, pos, at - pos);
          out.append(content_);
          pos = at + literal_.size();
        }
      }
      out.append(t, pos, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

// The BPE decoder for end-of-word suffixes: the suffix becomes a space, except in the last token.
class BpeSuffixDecoder final : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      const std::string with = k + 1 == tokens.size() ? "" : " ";
      std::string out;
      const std::string& t = tokens[k];
      size_t pos = 0;
      while (!suffix_.empty()) {
        const size_t at = t.find(suffix_, pos);
        if (at == std::string::npos) break;
        out.append(t, pos, at - pos);
        out.append(with);
        pos = at + suffix_.size();
      }
      out.append(t, pos, std::string::npos);
      tokens[k] = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

Result<uint32_t> single_char(const boost::json::object& obj, std::string_view key, const std::string& path) {
  auto s = json::get_string(obj, key, path);
  if (!s) return s.error();
  if (s->empty() || !is_valid_utf8(*s) || utf8_length(static_cast<unsigned char>((*s)[0])) != s->size()) {
    return make_error(ErrorCode::kConfig, fmt::format("{}: expected one character", json::child(path, key)));
  }
  size_t i = 0;
  return next_code_point(*s, i);
}

}  // namespace

Result<std::unique_ptr<Decoder>> parse_decoder(const boost::json::value& v, const std::string& path) {
  auto obj_r = json::as_object(v, path);
  if (!obj_r) return obj_r.error();
  const auto& obj = **obj_r;
  auto type = json::get_string(obj, "type", path);
  if (!type) return type.error();
  const std::string& t = *type;
  if (t == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (t == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (t == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (t == "Metaspace") {
    auto rep = single_char(obj, "replacement", path);
    if (!rep) return rep.error();
    bool prepend = true;
    auto ps = json::get_optional_string(obj, "prepend_scheme", path);
    if (!ps) return ps.error();
    if (*ps) {
      if (**ps != "always" && **ps != "first" && **ps != "never") {
        return make_error(ErrorCode::kConfig,
                          fmt::format("{}.prepend_scheme: unknown value '{}'", path, **ps));
      }
      prepend = **ps != "never";
    } else {
      auto aps = json::get_bool(obj, "add_prefix_space", path, true);
      if (!aps) return aps.error();
      prepend = *aps;
    }
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(*rep, prepend));
  }
  if (t == "Strip") {
    auto content = single_char(obj, "content", path);
    if (!content) return content.error();
    auto start = json::get_uint(obj, "start", path, 0);
    if (!start) return start.error();
    auto stop = json::get_uint(obj, "stop", path, 0);
    if (!stop) return stop.error();
    return std::unique_ptr<Decoder>(new StripDecoder(*content, *start, *stop));
  }
  if (t == "Replace") {
    const auto* pv = json::find(obj, "pattern");
    if (pv == nullptr) return json::type_error(json::child(path, "pattern"), "pattern object");
    auto spec = parse_pattern(*pv, json::child(path, "pattern"));
    if (!spec) return spec.error();
    auto content = json::get_string(obj, "content", path);
    if (!content) return content.error();
    if (!spec->is_regex) return std::unique_ptr<Decoder>(new ReplaceDecoder(spec->text, nullptr, *content));
    auto re = Regex::compile(spec->text);
    if (!re)
      return make_error(ErrorCode::kConfig, fmt::format("{}.pattern.Regex: {}", path, re.error().message));
    return std::unique_ptr<Decoder>(new ReplaceDecoder({}, std::move(*re), *content));
  }
  if (t == "BPEDecoder") {
    auto suffix = json::get_optional_string(obj, "suffix", path);
    if (!suffix) return suffix.error();
    return std::unique_ptr<Decoder>(new BpeSuffixDecoder(suffix->value_or("</w>")));
  }
  if (t == "Sequence") {
    const std::string key_path = json::child(path, "decoders");
    const auto* arr_v = json::find(obj, "decoders");
    if (arr_v == nullptr) return json::type_error(key_path, "array");
    auto arr = json::as_array(*arr_v, key_path);
    if (!arr) return arr.error();
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < (*arr)->size(); ++i) {
      auto d = parse_decoder((**arr)[i], json::index(key_path, i));
      if (!d) return d.error();
      parts.push_back(std::move(*d));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(parts)));
  }
  return make_error(ErrorCode::kConfig, fmt::format("{}.type: unsupported decoder '{}'", path, t));
}

}  // namespace llmd::tokenizer
