#include "jinja/parser.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/utf8.h"

namespace llmd::jinja {
namespace {

using ast::Expr;
using ast::ExprPtr;
using ast::Stmt;
using ast::StmtPtr;

// ---------------------------------------------------------------------------------------------
// Lexer. Follows Jinja2's rules for tag delimiters and whitespace control: "-" strips all
// whitespace on that side, lstrip_blocks removes indentation before a block or comment tag that
// starts a line, trim_blocks removes one newline after a block or comment tag, "+" disables both.

struct Token {
  enum class Type {
    kData,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEof
  };
  Type type;
  std::string text;
  Value literal;
  int line = 0;
};

uint32_t decode(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (i + len > s.size()) len = 1;
  uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1Fu) : len == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  i += len;
  return cp;
}

using llmd::append_utf8;

// Length of the Python whitespace run at s[i].
size_t space_run(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size()) {
    size_t k = j;
    if (!is_python_space(decode(s, k))) break;
    j = k;
  }
  return j - i;
}

std::string rstrip_python(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0u) == 0x80u) --start;
    size_t k = start;
    if (!is_python_space(decode(s, k))) break;
    end = start;
  }
  return std::string(s.substr(0, end));
}

bool all_space(std::string_view s) { return space_run(s, 0) == s.size(); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's .encode("ascii", "backslashreplace").decode("unicode-escape"), which Jinja2 applies
// to string literals.
Result<std::string> unescape(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c != '\\') {
      size_t k = i;
      decode(s, k);
      out.append(s.substr(i, k - i));
      i = k;
      continue;
    }
    if (i + 1 >= s.size()) return make_error(ErrorCode::kInvalidArgument, "\\ at end of string");
    const char e = s[i + 1];
    if (static_cast<unsigned char>(e) >= 0x80) {
      // The non-ASCII character was escaped by backslashreplace first: "\" then "\xNN" decodes
      // to a backslash followed by the literal escape text.
      size_t k = i + 1;
      const uint32_t cp = decode(s, k);
      out.push_back('\\');
      if (cp <= 0xFF) {
        out += fmt::format("x{:02x}", cp);
      } else if (cp <= 0xFFFF) {
        out += fmt::format("u{:04x}", cp);
      } else {
        out += fmt::format("U{:08x}", cp);
      }
      i = k;
      continue;
    }
    i += 2;
    switch (e) {
      case '\n':
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < digits; ++k) {
          const int h = i + k < s.size() ? hex_value(s[i + k]) : -1;
          if (h < 0) {
            return make_error(ErrorCode::kInvalidArgument,
                              fmt::format("truncated \\{}{} escape", e, std::string(digits, 'X')));
          }
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return make_error(ErrorCode::kInvalidArgument, "illegal Unicode character in escape");
        }
        append_utf8(out, cp);
        i += digits;
        break;
      }
      case 'N':
        return make_error(ErrorCode::kInvalidArgument, "\\N{...} escapes are not supported");
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7'; ++k) {
            cp = cp * 8 + static_cast<uint32_t>(s[i++] - '0');
          }
          append_utf8(out, cp);
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string src, const Options& opt) : src_(std::move(src)), opt_(opt) {}

  Result<std::vector<Token>> run() {
    size_t pos = 0;
    bool line_starting = true;
    const size_t n = src_.size();
    while (pos < n) {
      size_t t = pos;
      while (true) {
        t = src_.find('{', t);
        if (t == std::string::npos || t + 1 >= n) {
          t = std::string::npos;
          break;
        }
        const char k = src_[t + 1];
        if (k == '{' || k == '%' || k == '#') break;
        ++t;
      }
      if (t == std::string::npos) {
        emit_data(src_.substr(pos));
        break;
      }
      const char kind = src_[t + 1];
      const char sign = t + 2 < n && (src_[t + 2] == '-' || src_[t + 2] == '+') ? src_[t + 2] : '\0';
      std::string text = src_.substr(pos, t - pos);
      if (sign == '-') {
        text = rstrip_python(text);
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
            all_space(std::string_view(text).substr(l_pos))) {
          text.resize(l_pos);
        }
      }
      const size_t tag_end = t + 2 + (sign ? 1 : 0);
      size_t raw_end = 0;
      if (kind == '%' && is_raw_begin(tag_end, raw_end)) {
        emit_data(text);
        line_ += count_newlines(src_.substr(t, raw_end - t));
        auto r = lex_raw(raw_end, pos, line_starting);
        if (!r) return r.error();
        continue;
      }
      emit_data(text);
      line_ += count_newlines(src_.substr(pos + text.size(), t - pos - text.size()));
      pos = tag_end;
      if (kind == '#') {
        auto r = lex_comment(pos, line_starting);
        if (!r) return r.error();
        continue;
      }
      tokens_.push_back({kind == '%' ? Token::Type::kBlockBegin : Token::Type::kVarBegin, {}, {}, line_});
      auto r = lex_tag(kind == '%', pos, line_starting);
      if (!r) return r.error();
    }
    tokens_.push_back({Token::Type::kEof, {}, {}, line_});
    return std::move(tokens_);
  }

 private:
  static int count_newlines(std::string_view s) {
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }

  void emit_data(std::string text) {
    if (text.empty()) return;
    const int lines = count_newlines(text);
    tokens_.push_back({Token::Type::kData, std::move(text), {}, line_});
    line_ += lines;
  }

  // `{%[-+]? \s* raw \s* (-%}\s* | %})` starting after "{%" and its sign.
  bool is_raw_begin(size_t p, size_t& end) const {
    p += space_run(src_, p);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    p += space_run(src_, p);
    if (src_.compare(p, 3, "-%}") == 0) {
      p += 3;
      end = p + space_run(src_, p);
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      end = p + 2;
      return true;
    }
    return false;
  }

  Result<void> lex_raw(size_t p, size_t& pos, bool& line_starting) {
    size_t search = p;
    while (true) {
      const size_t t = src_.find("{%", search);
      if (t == std::string::npos)
        return make_error(ErrorCode::kInvalidArgument, "Missing end of raw directive");
      size_t q = t + 2;
      const char sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : '\0';
      if (sign) ++q;
      q += space_run(src_, q);
      if (src_.compare(q, 6, "endraw") != 0) {
        search = t + 1;
        continue;
      }
      q += 6;
      q += space_run(src_, q);
      size_t end;
      if (src_.compare(q, 3, "+%}") == 0) {
        end = q + 3;
      } else if (src_.compare(q, 3, "-%}") == 0) {
        end = q + 3 + space_run(src_, q + 3);
      } else if (src_.compare(q, 2, "%}") == 0) {
        end = q + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      } else {
        search = t + 1;
        continue;
      }
      std::string text = src_.substr(p, t - p);
      if (sign == '-') {
        text = rstrip_python(text);
      } else if (sign != '+' && opt_.lstrip_blocks) {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
            all_space(std::string_view(text).substr(l_pos))) {
          text.resize(l_pos);
        }
      }
      const size_t kept = text.size();
      emit_data(std::move(text));
      line_ += count_newlines(std::string_view(src_).substr(p + kept, end - p - kept));
      line_starting = end > 0 && src_[end - 1] == '\n';
      pos = end;
      return {};
    }
  }

  Result<void> lex_comment(size_t& pos, bool& line_starting) {
    for (size_t p = pos; p < src_.size(); ++p) {
      size_t end = 0;
      if (src_.compare(p, 3, "+#}") == 0) {
        end = p + 3;
      } else if (src_.compare(p, 3, "-#}") == 0) {
        end = p + 3 + space_run(src_, p + 3);
      } else if (src_.compare(p, 2, "#}") == 0) {
        end = p + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      } else {
        continue;
      }
      line_ += count_newlines(std::string_view(src_).substr(pos, end - pos));
      line_starting = src_[end - 1] == '\n';
      pos = end;
      return {};
    }
    return make_error(ErrorCode::kInvalidArgument, fmt::format("line {}: Missing end of comment tag", line_));
  }

  Result<void> lex_tag(bool block, size_t& pos, bool& line_starting) {
    std::vector<char> balance;
    const size_t n = src_.size();
    while (true) {
      if (pos >= n) {
        return make_error(
            ErrorCode::kInvalidArgument,
            fmt::format("line {}: unexpected end of template, expected '{}'", line_, block ? "%}" : "}}"));
      }
      if (balance.empty()) {
        size_t end = 0;
        if (block) {
          if (src_.compare(pos, 3, "+%}") == 0) {
            end = pos + 3;
          } else if (src_.compare(pos, 3, "-%}") == 0) {
            end = pos + 3 + space_run(src_, pos + 3);
          } else if (src_.compare(pos, 2, "%}") == 0) {
            end = pos + 2;
            if (opt_.trim_blocks && end < n && src_[end] == '\n') ++end;
          }
        } else {
          if (src_.compare(pos, 3, "-}}") == 0) {
            end = pos + 3 + space_run(src_, pos + 3);
          } else if (src_.compare(pos, 2, "}}") == 0) {
            end = pos + 2;
          }
        }
        if (end != 0) {
          tokens_.push_back({block ? Token::Type::kBlockEnd : Token::Type::kVarEnd, {}, {}, line_});
          line_ += count_newlines(std::string_view(src_).substr(pos, end - pos));
          line_starting = src_[end - 1] == '\n';
          pos = end;
          return {};
        }
      }
      const size_t ws = space_run(src_, pos);
      if (ws > 0) {
        line_ += count_newlines(std::string_view(src_).substr(pos, ws));
        pos += ws;
        continue;
      }
      const char c = src_[pos];
      if (c >= '0' && c <= '9') {
        auto r = lex_number(pos);
        if (!r) return r;
        continue;
      }
      if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          static_cast<unsigned char>(c) >= 0x80) {
        size_t e = pos;
        while (e < n) {
          const char d = src_[e];
          if (d == '_' || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') ||
              static_cast<unsigned char>(d) >= 0x80) {
            ++e;
          } else {
            break;
          }
        }
        tokens_.push_back({Token::Type::kName, src_.substr(pos, e - pos), {}, line_});
        pos = e;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t e = pos + 1;
        while (e < n && src_[e] != c) e += src_[e] == '\\' ? 2 : 1;
        if (e >= n)
          return make_error(ErrorCode::kInvalidArgument, fmt::format("line {}: unterminated string", line_));
        auto value = unescape(std::string_view(src_).substr(pos + 1, e - pos - 1));
        if (!value) {
          return make_error(ErrorCode::kInvalidArgument,
                            fmt::format("line {}: {}", line_, value.error().message));
        }
        tokens_.push_back({Token::Type::kString, {}, Value::string(std::move(*value)), line_});
        line_ += count_newlines(std::string_view(src_).substr(pos, e + 1 - pos));
        pos = e + 1;
        continue;
      }
      static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (auto t : kTwo) {
        if (src_.compare(pos, 2, t) == 0) op = std::string(t);
      }
      if (op.empty() && std::string_view("+-/*%~[](){}><=.:|,;").find(c) != std::string_view::npos)
        op = std::string(1, c);
      if (op.empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("line {}: unexpected char '{}'", line_, c));
      }
      if (op == "(" || op == "[" || op == "{") {
        balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
      } else if (op == ")" || op == "]" || op == "}") {
        if (balance.empty())
          return make_error(ErrorCode::kInvalidArgument, fmt::format("line {}: unexpected '{}'", line_, op));
        if (balance.back() != op[0]) {
          return make_error(
              ErrorCode::kInvalidArgument,
              fmt::format("line {}: unexpected '{}', expected '{}'", line_, op, balance.back()));
        }
        balance.pop_back();
      }
      tokens_.push_back({Token::Type::kOp, op, {}, line_});
      pos += op.size();
    }
  }

  // Jinja2's float and integer literals, with "_" separators.
  Result<void> lex_number(size_t& pos) {
    const size_t n = src_.size();
    auto digits = [&](size_t p) {
      size_t e = p;
      while (e < n && ((src_[e] >= '0' && src_[e] <= '9') ||
                       (src_[e] == '_' && e + 1 < n && src_[e + 1] >= '0' && src_[e + 1] <= '9' && e > p))) {
        ++e;
      }
      return e;
    };
    auto strip = [](std::string s) {
      s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
      return s;
    };
    const bool after_dot = pos > 0 && src_[pos - 1] == '.';
    size_t e = digits(pos);
    // Float: digits then ".digits" and/or an exponent (not right after a '.').
    if (!after_dot) {
      size_t f = e;
      bool is_float = false;
      if (f + 1 < n && src_[f] == '.' && src_[f + 1] >= '0' && src_[f + 1] <= '9') {
        f = digits(f + 1);
        is_float = true;
      }
      if (f < n && (src_[f] == 'e' || src_[f] == 'E')) {
        size_t g = f + 1;
        if (g < n && (src_[g] == '+' || src_[g] == '-')) ++g;
        if (g < n && src_[g] >= '0' && src_[g] <= '9') {
          f = digits(g);
          is_float = true;
        }
      }
      if (is_float) {
        const std::string text = strip(src_.substr(pos, f - pos));
        tokens_.push_back(
            {Token::Type::kFloat, text, Value::floating(std::strtod(text.c_str(), nullptr)), line_});
        pos = f;
        return {};
      }
    }
    if (src_[pos] == '0' && pos + 1 < n &&
        std::string_view("bBoOxX").find(src_[pos + 1]) != std::string_view::npos) {
      const char base_c = static_cast<char>(src_[pos + 1] | 0x20);
      const int base = base_c == 'b' ? 2 : base_c == 'o' ? 8 : 16;
      size_t g = pos + 2;
      int64_t v = 0;
      bool any = false;
      while (g < n) {
        if (src_[g] == '_') {
          ++g;
          continue;
        }
        const int h = hex_value(src_[g]);
        if (h < 0 || h >= base) break;
        v = v * base + h;
        any = true;
        ++g;
      }
      if (any) {
        tokens_.push_back({Token::Type::kInt, src_.substr(pos, g - pos), Value::integer(v), line_});
        pos = g;
        return {};
      }
    }
    const std::string text = strip(src_.substr(pos, e - pos));
    tokens_.push_back(
        {Token::Type::kInt, text, Value::integer(std::strtoll(text.c_str(), nullptr, 10)), line_});
    pos = e;
    return {};
  }

  std::string src_;
  Options opt_;
  std::vector<Token> tokens_;
  int line_ = 1;
};

// ---------------------------------------------------------------------------------------------
// Parser: Jinja2's grammar and operator precedence.

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Result<ast::Body> parse_all() {
    ast::Body body;
    auto r = parse_body(body, {});
    if (!r) return r.error();
    if (!r->empty()) return fail(fmt::format("unexpected '{}'", *r));
    return body;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  bool is_op(std::string_view op) const { return cur().type == Token::Type::kOp && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == Token::Type::kName && cur().text == n; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }

  Error fail(std::string msg) const {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("line {}: {}", cur().line, msg));
  }

  Result<void> expect_op(std::string_view op) {
    if (!is_op(op)) return fail(fmt::format("expected '{}'", op));
    next();
    return {};
  }

  Result<std::string> expect_name() {
    if (cur().type != Token::Type::kName) return fail("expected a name");
    std::string n = cur().text;
    next();
    return n;
  }

  Result<void> expect_block_end() {
    if (cur().type != Token::Type::kBlockEnd) return fail("expected end of statement block");
    next();
    return {};
  }

  // Parses statements until a block tag whose keyword is in `ends`; returns that keyword (the
  // parser is left on it) or "" at the end of the template.
  Result<std::string> parse_body(ast::Body& body, std::initializer_list<std::string_view> ends) {
    while (true) {
      const Token& tok = cur();
      switch (tok.type) {
        case Token::Type::kEof:
          if (ends.size() != 0) return fail("unexpected end of template");
          return std::string();
        case Token::Type::kData: {
          auto s = std::make_unique<Stmt>();
          s->kind = Stmt::Kind::kText;
          s->line = tok.line;
          s->text = tok.text;
          body.push_back(std::move(s));
          next();
          break;
        }
        case Token::Type::kVarBegin: {
          next();
          auto e = parse_tuple_expr(true);
          if (!e) return e.error();
          if (cur().type != Token::Type::kVarEnd) return fail("expected end of print statement");
          next();
          auto s = std::make_unique<Stmt>();
          s->kind = Stmt::Kind::kPrint;
          s->line = tok.line;
          s->expr = std::move(*e);
          body.push_back(std::move(s));
          break;
        }
        case Token::Type::kBlockBegin: {
          const Token& kw = peek();
          if (kw.type != Token::Type::kName) return fail("expected a statement name");
          for (auto e : ends) {
            if (kw.text == e) {
              next();
              return kw.text;
            }
          }
          next();
          auto r = parse_statement(body);
          if (!r) return r.error();
          break;
        }
        default:
          return fail("unexpected token");
      }
    }
  }

  Result<void> parse_statement(ast::Body& body) {
    const std::string kw = cur().text;
    const int line = cur().line;
    next();
    auto s = std::make_unique<Stmt>();
    s->line = line;
    if (kw == "if") {
      s->kind = Stmt::Kind::kIf;
      std::string end = "elif";
      while (end == "elif") {
        auto c = parse_tuple_expr(false);
        if (!c) return c.error();
        auto r = expect_block_end();
        if (!r) return r;
        ast::Body branch;
        auto e = parse_body(branch, {"elif", "else", "endif"});
        if (!e) return e.error();
        s->branches.emplace_back(std::move(*c), std::move(branch));
        end = *e;
        next();  // the keyword
      }
      if (end == "else") {
        auto r = expect_block_end();
        if (!r) return r;
        auto e = parse_body(s->else_body, {"endif"});
        if (!e) return e.error();
        next();
      }
      auto r = expect_block_end();
      if (!r) return r;
    } else if (kw == "for") {
      s->kind = Stmt::Kind::kFor;
      auto target = parse_target(false);
      if (!target) return target.error();
      s->target = std::move(*target);
      if (!is_name("in")) return fail("expected 'in'");
      next();
      auto iter = parse_tuple_expr(false);
      if (!iter) return iter.error();
      s->expr = std::move(*iter);
      if (is_name("if")) {
        next();
        auto c = parse_expression(true);
        if (!c) return c.error();
        s->cond = std::move(*c);
      }
      if (is_name("recursive")) return fail("recursive loops are not supported");
      auto r = expect_block_end();
      if (!r) return r;
      auto e = parse_body(s->body, {"endfor", "else"});
      if (!e) return e.error();
      next();
      if (*e == "else") {
        r = expect_block_end();
        if (!r) return r;
        auto e2 = parse_body(s->else_body, {"endfor"});
        if (!e2) return e2.error();
        next();
      }
      r = expect_block_end();
      if (!r) return r;
    } else if (kw == "set") {
      auto target = parse_target(true);
      if (!target) return target.error();
      s->target = std::move(*target);
      if (is_op("=")) {
        next();
        s->kind = Stmt::Kind::kSet;
        auto v = parse_tuple_expr(true);
        if (!v) return v.error();
        s->expr = std::move(*v);
        auto r = expect_block_end();
        if (!r) return r;
      } else {
        if (cur().type == Token::Type::kOp && cur().text == "|")
          return fail("filtered set blocks are not supported");
        s->kind = Stmt::Kind::kSetBlock;
        auto r = expect_block_end();
        if (!r) return r;
        auto e = parse_body(s->body, {"endset"});
        if (!e) return e.error();
        next();
        r = expect_block_end();
        if (!r) return r;
      }
    } else if (kw == "macro") {
      s->kind = Stmt::Kind::kMacro;
      auto name = expect_name();
      if (!name) return name.error();
      s->text = *name;
      auto r = expect_op("(");
      if (!r) return r;
      while (!is_op(")")) {
        if (!s->params.empty()) {
          r = expect_op(",");
          if (!r) return r;
        }
        auto p = expect_name();
        if (!p) return p.error();
        ast::MacroParam param{*p, nullptr};
        if (is_op("=")) {
          next();
          auto d = parse_expression(true);
          if (!d) return d.error();
          param.default_value = std::move(*d);
        }
        s->params.push_back(std::move(param));
      }
      next();
      r = expect_block_end();
      if (!r) return r;
      auto e = parse_body(s->body, {"endmacro"});
      if (!e) return e.error();
      next();
      r = expect_block_end();
      if (!r) return r;
    } else if (kw == "break" || kw == "continue") {
      s->kind = kw == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      auto r = expect_block_end();
      if (!r) return r;
    } else if (kw == "generation") {
      // transformers' AssistantTracker extension: renders its body unchanged, in a scope of its own
      // (it is a call block).
      s->kind = Stmt::Kind::kScope;
      auto r = expect_block_end();
      if (!r) return r;
      auto e = parse_body(s->body, {"endgeneration"});
      if (!e) return e.error();
      next();
      r = expect_block_end();
      if (!r) return r;
    } else {
      return fail(fmt::format("unsupported statement '{}'", kw));
    }
    body.push_back(std::move(s));
    return {};
  }

  Result<ast::Target> parse_target(bool allow_attribute) {
    ast::Target t;
    auto n = expect_name();
    if (!n) return n.error();
    if (allow_attribute && is_op(".")) {
      next();
      auto attr = expect_name();
      if (!attr) return attr.error();
      t.names.push_back(*n);
      t.attribute = *attr;
      return t;
    }
    t.names.push_back(*n);
    while (is_op(",")) {
      t.tuple = true;
      next();
      if (cur().type != Token::Type::kName) break;
      auto m = expect_name();
      if (!m) return m.error();
      t.names.push_back(*m);
    }
    return t;
  }

  static ExprPtr make(Expr::Kind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // An expression, or a tuple of them separated by commas (Jinja2's parse_tuple): for
  // {{ a, b }}, set values, if conditions and for-loop iterables.
  Result<ExprPtr> parse_tuple_expr(bool with_condexpr) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) {
        if (!is_op(",")) break;
        next();
        is_tuple = true;
      }
      if (cur().type == Token::Type::kVarEnd || cur().type == Token::Type::kBlockEnd || is_op(")") ||
          is_name("recursive")) {
        break;
      }
      auto e = parse_expression(with_condexpr);
      if (!e) return e.error();
      items.push_back(std::move(*e));
    }
    if (!is_tuple) {
      if (items.empty()) return fail("expected an expression");
      return std::move(items[0]);
    }
    auto t = make(Expr::Kind::kTuple, line);
    t->items = std::move(items);
    return t;
  }

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    if (!with_condexpr) return parse_or();
    auto e = parse_or();
    if (!e) return e;
    ExprPtr expr = std::move(*e);
    while (is_name("if")) {
      const int line = cur().line;
      next();
      auto cond = parse_or();
      if (!cond) return cond;
      ExprPtr else_expr;
      if (is_name("else")) {
        next();
        auto el = parse_expression(true);
        if (!el) return el;
        else_expr = std::move(*el);
      }
      auto c = make(Expr::Kind::kCondExpr, line);
      c->a = std::move(*cond);
      c->b = std::move(expr);
      c->c = std::move(else_expr);
      expr = std::move(c);
    }
    return expr;
  }

  // One left-associative level of `operand (keyword operand)*`, e.g. `a or b or c`.
  Result<ExprPtr> parse_keyword_chain(std::string_view keyword, Expr::Kind kind,
                                      Result<ExprPtr> (Parser::*operand)()) {
    auto left = (this->*operand)();
    if (!left) return left;
    ExprPtr e = std::move(*left);
    while (is_name(keyword)) {
      const int line = cur().line;
      next();
      auto right = (this->*operand)();
      if (!right) return right;
      auto n = make(kind, line);
      n->a = std::move(e);
      n->b = std::move(*right);
      e = std::move(n);
    }
    return e;
  }

  Result<ExprPtr> parse_or() { return parse_keyword_chain("or", Expr::Kind::kOr, &Parser::parse_and); }
  Result<ExprPtr> parse_and() { return parse_keyword_chain("and", Expr::Kind::kAnd, &Parser::parse_not); }

  Result<ExprPtr> parse_not() {
    if (is_name("not")) {
      const int line = cur().line;
      next();
      auto inner = parse_not();
      if (!inner) return inner;
      auto n = make(Expr::Kind::kNot, line);
      n->a = std::move(*inner);
      return n;
    }
    return parse_compare();
  }

  Result<ExprPtr> parse_compare() {
    const int line = cur().line;
    auto first = parse_math1();
    if (!first) return first;
    std::vector<std::string> ops;
    std::vector<ExprPtr> rest;
    while (true) {
      std::string op;
      if (cur().type == Token::Type::kOp && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                             cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == Token::Type::kName && peek().text == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      auto rhs = parse_math1();
      if (!rhs) return rhs;
      ops.push_back(op);
      rest.push_back(std::move(*rhs));
    }
    if (ops.empty()) return first;
    auto c = make(Expr::Kind::kCompare, line);
    c->a = std::move(*first);
    c->ops = std::move(ops);
    c->items = std::move(rest);
    return c;
  }

  Result<ExprPtr> binary_chain(Result<ExprPtr> (Parser::*sub)(),
                               std::initializer_list<std::string_view> ops) {
    auto left = (this->*sub)();
    if (!left) return left;
    ExprPtr e = std::move(*left);
    while (cur().type == Token::Type::kOp &&
           std::find(ops.begin(), ops.end(), std::string_view(cur().text)) != ops.end()) {
      const std::string op = cur().text;
      const int line = cur().line;
      next();
      auto right = (this->*sub)();
      if (!right) return right;
      auto n = make(Expr::Kind::kBinary, line);
      n->name = op;
      n->a = std::move(e);
      n->b = std::move(*right);
      e = std::move(n);
    }
    return e;
  }

  Result<ExprPtr> parse_math1() { return binary_chain(&Parser::parse_concat, {"+", "-"}); }
  Result<ExprPtr> parse_concat() { return binary_chain(&Parser::parse_math2, {"~"}); }
  Result<ExprPtr> parse_math2() { return binary_chain(&Parser::parse_pow, {"*", "/", "//", "%"}); }
  Result<ExprPtr> parse_pow() { return binary_chain(&Parser::parse_unary_filtered, {"**"}); }
  Result<ExprPtr> parse_unary_filtered() { return parse_unary(true); }

  Result<ExprPtr> parse_unary(bool with_filter) {
    const int line = cur().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const bool neg = is_op("-");
      next();
      auto inner = parse_unary(false);
      if (!inner) return inner;
      node = make(neg ? Expr::Kind::kNeg : Expr::Kind::kPos, line);
      node->a = std::move(*inner);
    } else {
      auto p = parse_primary();
      if (!p) return p;
      node = std::move(*p);
    }
    auto post = parse_postfix(std::move(node));
    if (!post) return post;
    node = std::move(*post);
    if (with_filter) return parse_filter_expr(std::move(node));
    return node;
  }

  Result<ExprPtr> parse_primary() {
    const Token& tok = cur();
    const int line = tok.line;
    if (tok.type == Token::Type::kName) {
      const std::string& n = tok.text;
      auto lit = make(Expr::Kind::kLiteral, line);
      if (n == "true" || n == "True") {
        lit->value = Value::boolean(true);
      } else if (n == "false" || n == "False") {
        lit->value = Value::boolean(false);
      } else if (n == "none" || n == "None") {
        lit->value = Value::none();
      } else {
        auto e = make(Expr::Kind::kName, line);
        e->name = n;
        next();
        return e;
      }
      next();
      return lit;
    }
    if (tok.type == Token::Type::kString) {
      std::string s = tok.literal.as_string();
      next();
      while (cur().type == Token::Type::kString) {
        s += cur().literal.as_string();
        next();
      }
      auto lit = make(Expr::Kind::kLiteral, line);
      lit->value = Value::string(std::move(s));
      return lit;
    }
    if (tok.type == Token::Type::kInt || tok.type == Token::Type::kFloat) {
      auto lit = make(Expr::Kind::kLiteral, line);
      lit->value = tok.literal;
      next();
      return lit;
    }
    if (is_op("(")) {
      next();
      if (is_op(")")) {
        next();
        return make(Expr::Kind::kTuple, line);
      }
      std::vector<ExprPtr> items;
      bool tuple = false;
      while (true) {
        auto e = parse_expression(true);
        if (!e) return e;
        items.push_back(std::move(*e));
        if (is_op(",")) {
          tuple = true;
          next();
          if (is_op(")")) break;
          continue;
        }
        break;
      }
      auto r = expect_op(")");
      if (!r) return r.error();
      if (!tuple) return std::move(items[0]);
      auto t = make(Expr::Kind::kTuple, line);
      t->items = std::move(items);
      return t;
    }
    if (is_op("[")) {
      next();
      auto l = make(Expr::Kind::kList, line);
      while (!is_op("]")) {
        if (!l->items.empty()) {
          auto r = expect_op(",");
          if (!r) return r.error();
          if (is_op("]")) break;
        }
        auto e = parse_expression(true);
        if (!e) return e;
        l->items.push_back(std::move(*e));
      }
      next();
      return l;
    }
    if (is_op("{")) {
      next();
      auto d = make(Expr::Kind::kDict, line);
      while (!is_op("}")) {
        if (!d->items.empty()) {
          auto r = expect_op(",");
          if (!r) return r.error();
          if (is_op("}")) break;
        }
        auto k = parse_expression(true);
        if (!k) return k;
        auto r = expect_op(":");
        if (!r) return r.error();
        auto v = parse_expression(true);
        if (!v) return v;
        d->items.push_back(std::move(*k));
        d->items.push_back(std::move(*v));
      }
      next();
      return d;
    }
    return fail("unexpected token in expression");
  }

  Result<ExprPtr> parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        auto s = parse_subscript(std::move(node));
        if (!s) return s;
        node = std::move(*s);
      } else if (is_op("(")) {
        auto c = parse_call(std::move(node));
        if (!c) return c;
        node = std::move(*c);
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        auto f = parse_filter(std::move(node));
        if (!f) return f;
        node = std::move(*f);
      } else if (is_name("is")) {
        auto t = parse_test(std::move(node));
        if (!t) return t;
        node = std::move(*t);
      } else if (is_op("(")) {
        auto c = parse_call(std::move(node));
        if (!c) return c;
        node = std::move(*c);
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_subscript(ExprPtr node) {
    const int line = cur().line;
    if (is_op(".")) {
      next();
      if (cur().type == Token::Type::kName) {
        auto g = make(Expr::Kind::kGetattr, line);
        g->a = std::move(node);
        g->name = cur().text;
        next();
        return g;
      }
      if (cur().type == Token::Type::kInt) {
        auto g = make(Expr::Kind::kGetitem, line);
        g->a = std::move(node);
        g->b = make(Expr::Kind::kLiteral, line);
        g->b->value = cur().literal;
        next();
        return g;
      }
      return fail("expected name or number after '.'");
    }
    next();  // [
    std::vector<ExprPtr> parts;
    bool is_tuple = false;
    while (!is_op("]")) {
      if (!parts.empty()) {
        auto r = expect_op(",");
        if (!r) return r.error();
        is_tuple = true;
      }
      auto p = parse_subscribed();
      if (!p) return p;
      parts.push_back(std::move(*p));
    }
    next();
    if (parts.empty()) return fail("expected subscript expression");
    auto g = make(Expr::Kind::kGetitem, line);
    g->a = std::move(node);
    if (is_tuple) {
      g->b = make(Expr::Kind::kTuple, line);
      g->b->items = std::move(parts);
    } else if (parts[0]->kind == Expr::Kind::kSlice) {
      ExprPtr slice = std::move(parts[0]);
      slice->a = std::move(g->a);
      return slice;
    } else {
      g->b = std::move(parts[0]);
    }
    return g;
  }

  // One subscript: an expression or a slice a:b:c (any part may be omitted).
  Result<ExprPtr> parse_subscribed() {
    const int line = cur().line;
    ExprPtr first;
    if (!is_op(":")) {
      auto e = parse_expression(true);
      if (!e) return e;
      if (!is_op(":")) return e;
      first = std::move(*e);
    }
    next();  // :
    auto slice = make(Expr::Kind::kSlice, line);
    slice->items.resize(3);
    slice->items[0] = std::move(first);
    if (!is_op("]") && !is_op(",") && !is_op(":")) {
      auto e = parse_expression(true);
      if (!e) return e;
      slice->items[1] = std::move(*e);
    }
    if (is_op(":")) {
      next();
      if (!is_op("]") && !is_op(",")) {
        auto e = parse_expression(true);
        if (!e) return e;
        slice->items[2] = std::move(*e);
      }
    }
    return slice;
  }

  Result<void> parse_call_args(std::vector<ast::Arg>& args) {
    auto r = expect_op("(");
    if (!r) return r;
    while (!is_op(")")) {
      if (!args.empty()) {
        r = expect_op(",");
        if (!r) return r;
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) return fail("*args and **kwargs in calls are not supported");
      if (cur().type == Token::Type::kName && peek().type == Token::Type::kOp && peek().text == "=") {
        std::string key = cur().text;
        next();
        next();
        auto v = parse_expression(true);
        if (!v) return v.error();
        args.push_back({std::move(key), std::move(*v)});
        continue;
      }
      if (!args.empty() && !args.back().name.empty())
        return fail("positional argument after keyword argument");
      auto v = parse_expression(true);
      if (!v) return v.error();
      args.push_back({{}, std::move(*v)});
    }
    next();
    return {};
  }

  Result<ExprPtr> parse_call(ExprPtr node) {
    auto c = make(Expr::Kind::kCall, cur().line);
    c->a = std::move(node);
    auto r = parse_call_args(c->args);
    if (!r) return r.error();
    return c;
  }

  Result<std::string> dotted_name() {
    auto n = expect_name();
    if (!n) return n;
    std::string name = *n;
    while (is_op(".")) {
      next();
      auto m = expect_name();
      if (!m) return m;
      name += "." + *m;
    }
    return name;
  }

  Result<ExprPtr> parse_filter(ExprPtr node) {
    next();  // |
    auto f = make(Expr::Kind::kFilter, cur().line);
    auto name = dotted_name();
    if (!name) return name.error();
    f->name = *name;
    f->a = std::move(node);
    if (is_op("(")) {
      auto r = parse_call_args(f->args);
      if (!r) return r.error();
    }
    return f;
  }

  Result<ExprPtr> parse_test(ExprPtr node) {
    next();  // is
    auto t = make(Expr::Kind::kTest, cur().line);
    if (is_name("not")) {
      t->negated = true;
      next();
    }
    auto name = dotted_name();
    if (!name) return name.error();
    t->name = *name;
    t->a = std::move(node);
    if (is_op("(")) {
      auto r = parse_call_args(t->args);
      if (!r) return r.error();
    } else if ((cur().type == Token::Type::kName || cur().type == Token::Type::kString ||
                cur().type == Token::Type::kInt || cur().type == Token::Type::kFloat || is_op("(") ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) return fail("You cannot chain multiple tests with is");
      auto p = parse_primary();
      if (!p) return p;
      auto post = parse_postfix(std::move(*p));
      if (!post) return post;
      t->args.push_back({{}, std::move(*post)});
    }
    return t;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

std::string normalize_source(std::string_view src, const Options& opt) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!opt.keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Result<ast::Body> parse_template(std::string_view source, const Options& options) {
  Lexer lexer(normalize_source(source, options), options);
  auto tokens = lexer.run();
  if (!tokens) return tokens.error();
  Parser parser(std::move(*tokens));
  return parser.parse_all();
}

}  // namespace llmd::jinja
