#include "jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <utf8proc.h>

#include "common/utf8.h"

namespace llmd::jinja {
namespace {

uint32_t decode_at(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3Fu); };
  if (b0 < 0x80) {
    i += 1;
    return b0;
  }
  if (b0 < 0xE0 && i + 1 < s.size()) {
    const uint32_t cp = ((b0 & 0x1Fu) << 6) | cont(1);
    i += 2;
    return cp;
  }
  if (b0 < 0xF0 && i + 2 < s.size()) {
    const uint32_t cp = ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
    i += 3;
    return cp;
  }
  if (i + 3 < s.size()) {
    const uint32_t cp = ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    i += 4;
    return cp;
  }
  i += 1;  // truncated sequence: template text is valid UTF-8, so this is not reached
  return 0xFFFD;
}

using llmd::append_utf8;

// Python's str.isprintable() for one character.
bool is_printable(uint32_t cp) {
  if (cp == ' ') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

void json_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const uint32_t cp = decode_at(s, i);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20) {
      out += fmt::format("\\u{:04x}", cp);
    } else if (ensure_ascii && cp >= 0x80) {
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out.push_back('"');
}

Result<void> dump_json(const Value& v, const JsonOptions& opt, int depth, std::string& out) {
  auto newline = [&](int d) {
    out.push_back('\n');
    out.append(static_cast<size_t>(*opt.indent) * static_cast<size_t>(d), ' ');
  };
  const char* item_sep = opt.indent ? "," : ", ";
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += "null";
      return {};
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return {};
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return {};
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += float_repr(d);
      }
      return {};
    }
    case Value::Kind::kString:
      json_string(v.as_string(), opt.ensure_ascii, out);
      return {};
    case Value::Kind::kList: {
      const auto& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return {};
      }
      out.push_back('[');
      for (size_t k = 0; k < items.size(); ++k) {
        if (k > 0) out += item_sep;
        if (opt.indent) newline(depth + 1);
        auto r = dump_json(items[k], opt, depth + 1, out);
        if (!r) return r;
      }
      if (opt.indent) newline(depth);
      out.push_back(']');
      return {};
    }
    case Value::Kind::kDict: {
      std::vector<const std::pair<Value, Value>*> entries;
      for (const auto& kv : v.as_dict()) entries.push_back(&kv);
      if (entries.empty()) {
        out += "{}";
        return {};
      }
      std::vector<std::string> keys;
      for (const auto* kv : entries) {
        const Value& k = kv->first;
        if (k.is_string()) {
          keys.push_back(k.as_string());
        } else if (k.is_bool()) {
          keys.push_back(k.as_bool() ? "true" : "false");
        } else if (k.is_int()) {
          keys.push_back(std::to_string(k.as_int()));
        } else if (k.is_float()) {
          keys.push_back(float_repr(k.as_float()));
        } else if (k.is_none()) {
          keys.push_back("null");
        } else {
          return make_error(ErrorCode::kInvalidArgument,
                            fmt::format("keys must be str, int, float, bool or None, not {}", k.type_name()));
        }
      }
      std::vector<size_t> order(entries.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      if (opt.sort_keys) {
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
      }
      out.push_back('{');
      for (size_t n = 0; n < order.size(); ++n) {
        if (n > 0) out += item_sep;
        if (opt.indent) newline(depth + 1);
        json_string(keys[order[n]], opt.ensure_ascii, out);
        out += ": ";
        auto r = dump_json(entries[order[n]]->second, opt, depth + 1, out);
        if (!r) return r;
      }
      if (opt.indent) newline(depth);
      out.push_back('}');
      return {};
    }
    default:
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("Object of type {} is not JSON serializable", v.type_name()));
  }
}

}  // namespace

std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_at(s, i));
  return out;
}

std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end && i < cps.size(); ++i) append_utf8(out, cps[i]);
  return out;
}

bool is_python_space(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

Value Value::undefined(std::string hint) {
  Value v;
  v.s_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}

Value Value::floating(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.d_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.s_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

namespace {

// Folds one element into its container's nesting and namespace flag.
void account(const Value& item, uint32_t& nesting, bool& holds_namespace) {
  nesting = std::max(nesting, item.nesting() == UINT32_MAX ? UINT32_MAX : item.nesting() + 1);
  holds_namespace = holds_namespace || item.is_namespace() || item.holds_namespace();
}

}  // namespace

Value Value::list(List items, bool tuple) {
  Value v;
  v.kind_ = Kind::kList;
  v.tuple_ = tuple;
  v.nesting_ = 1;
  for (const auto& x : items) account(x, v.nesting_, v.holds_namespace_);
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::dict(Dict items) {
  Value v;
  v.kind_ = Kind::kDict;
  v.nesting_ = 1;
  for (const auto& kv : items) {
    account(kv.first, v.nesting_, v.holds_namespace_);
    account(kv.second, v.nesting_, v.holds_namespace_);
  }
  v.dict_ = std::make_shared<Dict>(std::move(items));
  return v;
}

Value Value::make_namespace(Dict items) {
  Value v = dict(std::move(items));
  v.kind_ = Kind::kNamespace;
  return v;
}

Value Value::callable(Callable fn, std::string name) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.fn_ = std::make_shared<const Callable>(std::move(fn));
  v.s_ = std::make_shared<const std::string>(std::move(name));
  return v;
}

Value Value::from_json(const boost::json::value& j) {
  switch (j.kind()) {
    case boost::json::kind::null:
      return none();
    case boost::json::kind::bool_:
      return boolean(j.get_bool());
    case boost::json::kind::int64:
      return integer(j.get_int64());
    case boost::json::kind::uint64:
      if (j.get_uint64() <= static_cast<uint64_t>(INT64_MAX))
        return integer(static_cast<int64_t>(j.get_uint64()));
      return floating(static_cast<double>(j.get_uint64()));
    case boost::json::kind::double_:
      return floating(j.get_double());
    case boost::json::kind::string:
      return string(std::string(j.get_string()));
    case boost::json::kind::array: {
      List items;
      for (const auto& x : j.get_array()) items.push_back(from_json(x));
      return list(std::move(items));
    }
    case boost::json::kind::object: {
      Dict items;
      for (const auto& kv : j.get_object())
        items.emplace_back(string(std::string(kv.key())), from_json(kv.value()));
      return dict(std::move(items));
    }
  }
  return none();
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::kDict && kind_ != Kind::kNamespace) return nullptr;
  for (const auto& kv : *dict_) {
    if (kv.first.is_string() && kv.first.as_string() == key) return &kv.second;
  }
  return nullptr;
}

const Value* Value::find(const Value& key) const {
  if (kind_ != Kind::kDict && kind_ != Kind::kNamespace) return nullptr;
  for (const auto& kv : *dict_) {
    if (equals(kv.first, key)) return &kv.second;
  }
  return nullptr;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return b_;
    case Kind::kInt:
      return i_ != 0;
    case Kind::kFloat:
      return d_ != 0.0;
    case Kind::kString:
      return !s_->empty();
    case Kind::kList:
      return !list_->empty();
    case Kind::kDict:
      return !dict_->empty();
    case Kind::kNamespace:
    case Kind::kCallable:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return tuple_ ? "tuple" : "list";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kCallable:
      return "function";
  }
  return "object";
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int exp10 = std::stoi(std::string(sci.substr(e_pos + 1)));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int decpt = exp10 + 1;
  const int n = static_cast<int>(digits.size());
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  const int e = decpt - 1;
  out += fmt::format("e{}{:02d}", e < 0 ? '-' : '+', e < 0 ? -e : e);
  return out;
}

std::string string_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const uint32_t cp = decode_at(s, i);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02x}", cp);
    } else if (cp < 0x7F || is_printable(cp)) {
      out.append(s.substr(start, i - start));
    } else if (cp <= 0xFF) {
      out += fmt::format("\\x{:02x}", cp);
    } else if (cp <= 0xFFFF) {
      out += fmt::format("\\u{:04x}", cp);
    } else {
      out += fmt::format("\\U{:08x}", cp);
    }
  }
  out.push_back(quote);
  return out;
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::kString:
      return string_repr(*s_);
    case Kind::kUndefined:
      return "Undefined";
    default:
      return str();
  }
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return b_ ? "True" : "False";
    case Kind::kInt:
      return std::to_string(i_);
    case Kind::kFloat:
      return float_repr(d_);
    case Kind::kString:
      return *s_;
    case Kind::kList: {
      std::string out(1, tuple_ ? '(' : '[');
      for (size_t k = 0; k < list_->size(); ++k) {
        if (k > 0) out += ", ";
        out += (*list_)[k].repr();
      }
      if (tuple_ && list_->size() == 1) out += ",";
      out.push_back(tuple_ ? ')' : ']');
      return out;
    }
    case Kind::kDict:
    case Kind::kNamespace: {
      std::string out = kind_ == Kind::kNamespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& kv : *dict_) {
        if (!first) out += ", ";
        first = false;
        out += kv.first.repr() + ": " + kv.second.repr();
      }
      out += kind_ == Kind::kNamespace ? "}>" : "}";
      return out;
    }
    case Kind::kCallable:
      return "<function " + *s_ + ">";
  }
  return "";
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::kUndefined:
    case K::kNone:
      return true;
    case K::kString:
      return a.as_string() == b.as_string();
    case K::kList: {
      if (a.is_tuple() != b.is_tuple() || a.as_list().size() != b.as_list().size()) return false;
      for (size_t i = 0; i < a.as_list().size(); ++i) {
        if (!equals(a.as_list()[i], b.as_list()[i])) return false;
      }
      return true;
    }
    case K::kDict: {
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& kv : a.as_dict()) {
        const Value* other = b.find(kv.first);
        if (other == nullptr || !equals(kv.second, *other)) return false;
      }
      return true;
    }
    case K::kNamespace:
      return &a.namespace_items() == &b.namespace_items();
    case K::kCallable:
      return &a.as_callable() == &b.as_callable();
    default:
      return false;
  }
}

Result<bool> less_than(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  return make_error(
      ErrorCode::kInvalidArgument,
      fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
}

Result<std::string> to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  auto r = dump_json(v, options, 0, out);
  if (!r) return r.error();
  return out;
}

}  // namespace llmd::jinja
