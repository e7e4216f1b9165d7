#include "jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string_view>

#include <fmt/format.h>
#include <utf8proc.h>

namespace llmd::jinja {
namespace {

// The sandbox's bound on range() (Jinja2's MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

Error type_error(std::string msg) { return make_error(ErrorCode::kInvalidArgument, std::move(msg)); }

Error undefined_error(const Value& v) { return type_error(v.hint().empty() ? "undefined value" : v.hint()); }

std::string utf8(uint32_t cp) { return from_code_points({cp}, 0, 1); }

// Unconditional multi-character case mappings from SpecialCasing.txt, which Python's
// str.upper()/title() apply and utf8proc's single-character mappings lack (the Greek iota
// subscript forms are not included).
struct SpecialCase {
  uint32_t cp;
  const char* title;
  const char* upper;
};
constexpr SpecialCase kSpecialCases[] = {
    {0x00DF, "Ss", "SS"},
    {0x0149, "\xCA\xBCN", "\xCA\xBCN"},
    {0x01F0, "J\xCC\x8C", "J\xCC\x8C"},
    {0x0390, "\xCE\x99\xCC\x88\xCC\x81", "\xCE\x99\xCC\x88\xCC\x81"},
    {0x03B0, "\xCE\xA5\xCC\x88\xCC\x81", "\xCE\xA5\xCC\x88\xCC\x81"},
    {0x0587, "\xD4\xB5\xD6\x82", "\xD4\xB5\xD5\x92"},
    {0x1E96, "H\xCC\xB1", "H\xCC\xB1"},
    {0x1E97, "T\xCC\x88", "T\xCC\x88"},
    {0x1E98, "W\xCC\x8A", "W\xCC\x8A"},
    {0x1E99, "Y\xCC\x8A", "Y\xCC\x8A"},
    {0x1E9A, "A\xCA\xBE", "A\xCA\xBE"},
    {0xFB00, "Ff", "FF"},
    {0xFB01, "Fi", "FI"},
    {0xFB02, "Fl", "FL"},
    {0xFB03, "Ffi", "FFI"},
    {0xFB04, "Ffl", "FFL"},
    {0xFB05, "St", "ST"},
    {0xFB06, "St", "ST"},
    {0xFB13, "\xD5\x84\xD5\xB6", "\xD5\x84\xD5\x86"},
    {0xFB14, "\xD5\x84\xD5\xA5", "\xD5\x84\xD4\xB5"},
    {0xFB15, "\xD5\x84\xD5\xAB", "\xD5\x84\xD4\xBB"},
    {0xFB16, "\xD5\x8E\xD5\xB6", "\xD5\x8E\xD5\x86"},
    {0xFB17, "\xD5\x84\xD5\xAD", "\xD5\x84\xD4\xBD"},
};

const SpecialCase* special_case(uint32_t cp) {
  for (const auto& sc : kSpecialCases) {
    if (sc.cp == cp) return &sc;
  }
  return nullptr;
}

// Python's str.upper()/lower()/title() for one character.
std::string upper_cp(uint32_t cp) {
  if (const auto* sc = special_case(cp)) return sc->upper;
  return utf8(static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))));
}
std::string lower_cp(uint32_t cp) {
  if (cp == 0x130) return "i\xCC\x87";
  return utf8(static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}
std::string title_cp(uint32_t cp) {
  if (const auto* sc = special_case(cp)) return sc->title;
  return utf8(static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp))));
}
bool is_cased(uint32_t cp) {
  const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

std::string py_upper(std::string_view s) {
  std::string out;
  for (uint32_t cp : code_points(s)) out += upper_cp(cp);
  return out;
}
std::string py_lower(std::string_view s) {
  std::string out;
  for (uint32_t cp : code_points(s)) out += lower_cp(cp);
  return out;
}
std::string py_title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t cp : code_points(s)) {
    if (is_cased(cp)) {
      out += prev_cased ? lower_cp(cp) : title_cp(cp);
      prev_cased = true;
    } else {
      out += utf8(cp);
      prev_cased = false;
    }
  }
  return out;
}
std::string py_capitalize(std::string_view s) {
  const auto cps = code_points(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) out += i == 0 ? title_cp(cps[i]) : lower_cp(cps[i]);
  return out;
}

// str.strip / lstrip / rstrip with Python's semantics; `chars` null means whitespace.
std::string py_strip(std::string_view s, const Value* chars, bool left, bool right) {
  const auto cps = code_points(s);
  std::vector<uint32_t> set;
  const bool ws = chars == nullptr || chars->is_none() || chars->is_undefined();
  if (!ws) set = code_points(chars->str());
  auto strip_it = [&](uint32_t cp) {
    return ws ? is_python_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strip_it(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(cps[e - 1])) --e;
  }
  return from_code_points(cps, b, e);
}

Result<std::vector<Value>> py_split(std::string_view s, const Value* sep_v, int64_t maxsplit,
                                    bool from_right) {
  std::vector<std::string> parts;
  if (sep_v == nullptr || sep_v->is_none()) {
    const auto cps = code_points(s);
    // Whitespace split: runs of whitespace separate, leading and trailing ones are dropped.
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_python_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      size_t j = i;
      while (j < cps.size() && !is_python_space(cps[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= words.size()) {
      for (auto [a, b] : words) parts.push_back(from_code_points(cps, a, b));
    } else if (!from_right) {
      for (size_t k = 0; k < static_cast<size_t>(maxsplit); ++k) {
        parts.push_back(from_code_points(cps, words[k].first, words[k].second));
      }
      size_t e = cps.size();
      while (e > 0 && is_python_space(cps[e - 1])) --e;
      parts.push_back(from_code_points(cps, words[static_cast<size_t>(maxsplit)].first, e));
    } else {
      const size_t keep = words.size() - static_cast<size_t>(maxsplit);
      size_t b = 0;
      while (b < cps.size() && is_python_space(cps[b])) ++b;
      parts.push_back(from_code_points(cps, b, words[keep - 1].second));
      for (size_t k = keep; k < words.size(); ++k)
        parts.push_back(from_code_points(cps, words[k].first, words[k].second));
    }
  } else {
    if (!sep_v->is_string()) return type_error("must be str or None, not " + sep_v->type_name());
    const std::string& sep = sep_v->as_string();
    if (sep.empty()) return type_error("empty separator");
    std::vector<size_t> cuts;
    size_t pos = 0;
    while (true) {
      const size_t at = s.find(sep, pos);
      if (at == std::string_view::npos) break;
      cuts.push_back(at);
      pos = at + sep.size();
    }
    if (maxsplit >= 0 && cuts.size() > static_cast<size_t>(maxsplit)) {
      if (from_right) {
        // rsplit scans from the right; for non-overlapping matches of a fixed separator this
        // differs from the left scan only when the separator overlaps itself.
        std::vector<size_t> rcuts;
        size_t end = s.size();
        while (rcuts.size() < static_cast<size_t>(maxsplit)) {
          if (end < sep.size()) break;
          const size_t at = s.rfind(sep, end - sep.size());
          if (at == std::string_view::npos) break;
          rcuts.push_back(at);
          end = at;
        }
        std::reverse(rcuts.begin(), rcuts.end());
        cuts = std::move(rcuts);
      } else {
        cuts.resize(static_cast<size_t>(maxsplit));
      }
    }
    size_t start = 0;
    for (size_t c : cuts) {
      parts.emplace_back(s.substr(start, c - start));
      start = c + sep.size();
    }
    parts.emplace_back(s.substr(start));
  }
  std::vector<Value> out;
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view with, int64_t count) {
  std::string out;
  if (old.empty()) {
    const auto cps = code_points(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out.append(with);
        ++done;
      }
      if (i < cps.size()) out += utf8(cps[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(old, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos));
    out.append(with);
    pos = at + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

// The argument `name` at `index`, by position or keyword; nullptr when absent.
const Value* arg(const CallArgs& a, size_t index, std::string_view name) {
  if (index < a.positional.size()) return &a.positional[index];
  for (const auto& kw : a.keyword) {
    if (kw.first == name) return &kw.second;
  }
  return nullptr;
}

Result<int64_t> int_arg(const CallArgs& a, size_t index, std::string_view name, int64_t dflt) {
  const Value* v = arg(a, index, name);
  if (v == nullptr || v->is_none()) return dflt;
  if (!v->is_int() && !v->is_bool()) return type_error(fmt::format("'{}' must be an integer", name));
  return v->as_int();
}

bool bool_arg(const CallArgs& a, size_t index, std::string_view name, bool dflt) {
  const Value* v = arg(a, index, name);
  return v == nullptr ? dflt : v->truthy();
}

Value bound(std::function<Result<Value>(CallArgs&)> fn, std::string name) {
  return Value::callable(std::move(fn), std::move(name));
}

Result<Value> string_method(const Value& self, const std::string& name) {
  const std::string s = self.as_string();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return bound(
        [s, l, r](CallArgs& a) -> Result<Value> {
          return Value::string(py_strip(s, arg(a, 0, "chars"), l, r));
        },
        name);
  }
  if (name == "split" || name == "rsplit") {
    const bool right = name == "rsplit";
    return bound(
        [s, right](CallArgs& a) -> Result<Value> {
          auto maxsplit = int_arg(a, 1, "maxsplit", -1);
          if (!maxsplit) return maxsplit.error();
          auto parts = py_split(s, arg(a, 0, "sep"), *maxsplit, right);
          if (!parts) return parts.error();
          return Value::list(std::move(*parts));
        },
        name);
  }
  if (name == "startswith" || name == "endswith") {
    const bool starts = name == "startswith";
    return bound(
        [s, starts](CallArgs& a) -> Result<Value> {
          const Value* p = arg(a, 0, "prefix");
          if (p == nullptr) return type_error("startswith() takes at least 1 argument");
          std::vector<std::string> candidates;
          if (p->is_string()) {
            candidates.push_back(p->as_string());
          } else if (p->is_tuple()) {
            for (const auto& x : p->as_list()) {
              if (!x.is_string()) return type_error("tuple for startswith must only contain str");
              candidates.push_back(x.as_string());
            }
          } else {
            return type_error("startswith first arg must be str or a tuple of str, not " + p->type_name());
          }
          for (const auto& c : candidates) {
            if (c.size() > s.size()) continue;
            if (starts ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0) {
              return Value::boolean(true);
            }
          }
          return Value::boolean(false);
        },
        name);
  }
  if (name == "upper")
    return bound([s](CallArgs&) -> Result<Value> { return Value::string(py_upper(s)); }, name);
  if (name == "lower")
    return bound([s](CallArgs&) -> Result<Value> { return Value::string(py_lower(s)); }, name);
  if (name == "title")
    return bound([s](CallArgs&) -> Result<Value> { return Value::string(py_title(s)); }, name);
  if (name == "capitalize") {
    return bound([s](CallArgs&) -> Result<Value> { return Value::string(py_capitalize(s)); }, name);
  }
  if (name == "replace") {
    return bound(
        [s](CallArgs& a) -> Result<Value> {
          const Value* o = arg(a, 0, "old");
          const Value* n = arg(a, 1, "new");
          if (o == nullptr || n == nullptr || !o->is_string() || !n->is_string()) {
            return type_error("replace() arguments must be str");
          }
          auto count = int_arg(a, 2, "count", -1);
          if (!count) return count.error();
          return Value::string(py_replace(s, o->as_string(), n->as_string(), *count));
        },
        name);
  }
  if (name == "find" || name == "rfind" || name == "count" || name == "index") {
    return bound(
        [s, name](CallArgs& a) -> Result<Value> {
          const Value* sub = arg(a, 0, "sub");
          if (sub == nullptr || !sub->is_string()) return type_error(name + "() argument must be str");
          const std::string& needle = sub->as_string();
          if (name == "count") {
            if (needle.empty()) return Value::integer(static_cast<int64_t>(code_points(s).size()) + 1);
            int64_t n = 0;
            for (size_t pos = s.find(needle); pos != std::string::npos;
                 pos = s.find(needle, pos + needle.size()))
              ++n;
            return Value::integer(n);
          }
          const size_t at = name == "rfind" ? s.rfind(needle) : s.find(needle);
          if (at == std::string::npos) {
            if (name == "index") return type_error("substring not found");
            return Value::integer(-1);
          }
          return Value::integer(static_cast<int64_t>(code_points(s.substr(0, at)).size()));
        },
        name);
  }
  if (name == "join") {
    return bound(
        [s](CallArgs& a) -> Result<Value> {
          const Value* it = arg(a, 0, "iterable");
          if (it == nullptr) return type_error("join() takes exactly one argument");
          auto items = iterate(*it);
          if (!items) return items.error();
          std::string out;
          for (size_t i = 0; i < items->size(); ++i) {
            if (!(*items)[i].is_string()) {
              return type_error(fmt::format("sequence item {}: expected str instance, {} found", i,
                                            (*items)[i].type_name()));
            }
            if (i > 0) out += s;
            out += (*items)[i].as_string();
          }
          return Value::string(std::move(out));
        },
        name);
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum" || name == "islower" ||
      name == "isupper") {
    return bound(
        [s, name](CallArgs&) -> Result<Value> {
          const auto cps = code_points(s);
          if (cps.empty()) return Value::boolean(false);
          bool any_cased = false;
          for (uint32_t cp : cps) {
            const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
            const bool alpha = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
            const bool digit = cat == UTF8PROC_CATEGORY_ND;
            bool ok = true;
            if (name == "isdigit") ok = digit;
            if (name == "isalpha") ok = alpha;
            if (name == "isspace") ok = is_python_space(cp);
            if (name == "isalnum")
              ok = alpha || digit || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
            if (name == "islower") {
              ok = !(cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT);
              any_cased = any_cased || cat == UTF8PROC_CATEGORY_LL;
            }
            if (name == "isupper") {
              ok = !(cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT);
              any_cased = any_cased || cat == UTF8PROC_CATEGORY_LU;
            }
            if (!ok) return Value::boolean(false);
          }
          if (name == "islower" || name == "isupper") return Value::boolean(any_cased);
          return Value::boolean(true);
        },
        name);
  }
  return Value::undefined(fmt::format("'str object' has no attribute '{}'", name));
}

Result<Value> dict_method(const Value& self, const std::string& name) {
  if (name == "items") {
    return bound(
        [self](CallArgs&) -> Result<Value> {
          Value::List items;
          for (const auto& kv : self.as_dict()) items.push_back(Value::list({kv.first, kv.second}, true));
          return Value::list(std::move(items));
        },
        name);
  }
  if (name == "keys" || name == "values") {
    const bool keys = name == "keys";
    return bound(
        [self, keys](CallArgs&) -> Result<Value> {
          Value::List items;
          for (const auto& kv : self.as_dict()) items.push_back(keys ? kv.first : kv.second);
          return Value::list(std::move(items));
        },
        name);
  }
  if (name == "get") {
    return bound(
        [self](CallArgs& a) -> Result<Value> {
          const Value* key = arg(a, 0, "key");
          if (key == nullptr) return type_error("get expected at least 1 argument");
          if (const Value* v = self.find(*key)) return *v;
          const Value* d = arg(a, 1, "default");
          return d != nullptr ? *d : Value::none();
        },
        name);
  }
  return Value::undefined();
}

bool is_dict_method(const std::string& name) {
  return name == "items" || name == "keys" || name == "values" || name == "get";
}

// Jinja2's attribute getter for filters: "a.b.0" looks up item-first, part by part.
Result<Value> attr_path(const Value& obj, const std::string& path) {
  Value cur = obj;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Value key = Value::string(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      key = Value::integer(std::strtoll(part.c_str(), nullptr, 10));
    }
    auto next = get_item(cur, key);
    if (!next) return next;
    cur = std::move(*next);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// The item itself, or the value at its `attribute` path when one is given (none counts as not given).
Result<Value> item_or_attribute(const Value& item, const Value* attribute) {
  if (attribute == nullptr || attribute->is_none()) return item;
  return attr_path(item, attribute->str());
}

Result<Value> sort_key(const Value& v, const Value* attribute, bool case_sensitive) {
  auto key = item_or_attribute(v, attribute);
  if (!key) return key;
  if (!case_sensitive && key->is_string()) return Value::string(py_lower(key->as_string()));
  return key;
}

Result<std::vector<Value>> sorted(std::vector<Value> items, const Value* attribute, bool case_sensitive,
                                  bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& v : items) {
    auto k = sort_key(v, attribute, case_sensitive);
    if (!k) return k.error();
    keyed.emplace_back(std::move(*k), std::move(v));
  }
  std::optional<Error> failure;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto r = reverse ? less_than(y.first, x.first) : less_than(x.first, y.first);
    if (!r) {
      if (!failure) failure = r.error();
      return false;
    }
    return *r;
  });
  if (failure) return *failure;
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return out;
}

// Python's str.splitlines() boundaries.
bool is_line_break(uint32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E ||
         cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

std::vector<std::string> splitlines(std::string_view s) {
  const auto cps = code_points(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < cps.size()) {
    if (is_line_break(cps[i])) {
      out.push_back(from_code_points(cps, start, i));
      if (cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
      start = i + 1;
    }
    ++i;
  }
  if (start < cps.size()) out.push_back(from_code_points(cps, start, cps.size()));
  return out;
}

double py_floor_mod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

int64_t py_floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Result<Value> to_int(const Value& v, const Value& dflt, int base) {
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_float())) return dflt;
    return Value::integer(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), nullptr, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return dflt;
    char* end = nullptr;
    const long long i = std::strtoll(s.c_str(), &end, base);
    if (end != nullptr && *end == '\0') return Value::integer(i);
    const double d = std::strtod(s.c_str(), &end);
    if (end != nullptr && *end == '\0' && std::isfinite(d)) return Value::integer(static_cast<int64_t>(d));
  }
  return dflt;
}

}  // namespace

std::optional<Value> global(const std::string& name) {
  if (name == "range") {
    return Value::callable(
        [](CallArgs& a) -> Result<Value> {
          std::vector<int64_t> n;
          for (const auto& v : a.positional) {
            if (!v.is_int() && !v.is_bool())
              return type_error("range() integer argument expected, got " + v.type_name());
            n.push_back(v.as_int());
          }
          int64_t start = 0, stop = 0, step = 1;
          if (n.size() == 1) {
            stop = n[0];
          } else if (n.size() == 2 || n.size() == 3) {
            start = n[0];
            stop = n[1];
            if (n.size() == 3) step = n[2];
          } else {
            return type_error("range expected 1 to 3 arguments");
          }
          if (step == 0) return type_error("range() arg 3 must not be zero");
          Value::List out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (static_cast<int64_t>(out.size()) >= kMaxRange) {
              return make_error(ErrorCode::kResourceExhausted,
                                "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            }
            out.push_back(Value::integer(i));
          }
          return Value::list(std::move(out));
        },
        "range");
  }
  if (name == "namespace" || name == "dict") {
    const bool ns = name == "namespace";
    return Value::callable(
        [ns](CallArgs& a) -> Result<Value> {
          Value::Dict items;
          for (const auto& p : a.positional) {
            if (!p.is_dict()) return type_error("expected a mapping");
            for (const auto& kv : p.as_dict()) items.push_back(kv);
          }
          for (const auto& kw : a.keyword) {
            bool replaced = false;
            for (auto& kv : items) {
              if (kv.first.is_string() && kv.first.as_string() == kw.first) {
                kv.second = kw.second;
                replaced = true;
              }
            }
            if (!replaced) items.emplace_back(Value::string(kw.first), kw.second);
          }
          if (!ns) return Value::dict(std::move(items));
          // As for `{% set ns.attr = ... %}` (template.cc): no namespace inside a namespace.
          for (const auto& kv : items) {
            if (kv.second.is_namespace() || kv.second.holds_namespace())
              return type_error("a namespace attribute cannot hold a namespace");
          }
          return Value::make_namespace(std::move(items));
        },
        name);
  }
  return std::nullopt;
}

Result<Value> get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return undefined_error(obj);
    case Value::Kind::kString:
      return string_method(obj, name);
    case Value::Kind::kDict: {
      if (is_dict_method(name)) return dict_method(obj, name);
      if (const Value* v = obj.find(name)) return *v;
      return Value::undefined(fmt::format("'dict object' has no attribute '{}'", name));
    }
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.find(name)) return *v;
      return Value::undefined(fmt::format("'Namespace object' has no attribute '{}'", name));
    }
    default:
      return Value::undefined(fmt::format("'{} object' has no attribute '{}'", obj.type_name(), name));
  }
}

Result<Value> get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return undefined_error(obj);
    case Value::Kind::kList: {
      if (key.is_int() || key.is_bool()) {
        const auto n = static_cast<int64_t>(obj.as_list().size());
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i < 0 || i >= n)
          return Value::undefined(fmt::format("{} object has no element {}", obj.type_name(), key.as_int()));
        return obj.as_list()[static_cast<size_t>(i)];
      }
      break;
    }
    case Value::Kind::kString: {
      if (key.is_int() || key.is_bool()) {
        const auto cps = code_points(obj.as_string());
        const auto n = static_cast<int64_t>(cps.size());
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i < 0 || i >= n)
          return Value::undefined(fmt::format("str object has no element {}", key.as_int()));
        return Value::string(from_code_points(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
      }
      break;
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.find(key)) return *v;
      if (obj.is_dict() && key.is_string() && is_dict_method(key.as_string()))
        return dict_method(obj, key.as_string());
      return Value::undefined(fmt::format("'{} object' has no attribute {}",
                                          obj.is_dict() ? "dict" : "Namespace",
                                          key.is_string() ? "'" + key.as_string() + "'" : key.repr()));
    }
    default:
      break;
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return Value::undefined(fmt::format("'{} object' has no attribute {}", obj.type_name(), key.repr()));
}

Result<Value> slice(const Value& obj, std::optional<int64_t> start, std::optional<int64_t> stop,
                    std::optional<int64_t> step) {
  if (obj.is_undefined()) return undefined_error(obj);
  std::vector<uint32_t> cps;
  int64_t n;
  if (obj.is_string()) {
    cps = code_points(obj.as_string());
    n = static_cast<int64_t>(cps.size());
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.as_list().size());
  } else {
    return type_error(fmt::format("'{}' object is not subscriptable", obj.type_name()));
  }
  const int64_t st = step.value_or(1);
  if (st == 0) return type_error("slice step cannot be zero");
  // Python's slice.indices().
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = clamp(start, st < 0 ? n - 1 : 0);
  const int64_t e = clamp(stop, st < 0 ? -1 : n);
  std::vector<size_t> idx;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) idx.push_back(static_cast<size_t>(i));
  if (obj.is_string()) {
    std::string out;
    for (size_t i : idx) out += utf8(cps[i]);
    return Value::string(std::move(out));
  }
  Value::List out;
  for (size_t i : idx) out.push_back(obj.as_list()[i]);
  return Value::list(std::move(out), obj.is_tuple());
}

Result<std::vector<Value>> iterate(const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return out;
    case Value::Kind::kList:
      return v.as_list();
    case Value::Kind::kDict:
      for (const auto& kv : v.as_dict()) out.push_back(kv.first);
      return out;
    case Value::Kind::kString: {
      const auto cps = code_points(v.as_string());
      for (size_t i = 0; i < cps.size(); ++i) out.push_back(Value::string(utf8(cps[i])));
      return out;
    }
    default:
      return type_error(fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

Result<Value> binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value::string(a.str() + b.str());
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  auto unsupported = [&]() {
    return type_error(
        fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
  };
  const bool nums = a.is_number() && b.is_number();
  const bool floats = nums && (a.is_float() || b.is_float());
  if (op == "+") {
    if (nums)
      return floats ? Value::floating(a.as_float() + b.as_float()) : Value::integer(a.as_int() + b.as_int());
    if (a.is_string() && b.is_string()) return Value::string(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      Value::List items = a.as_list();
      items.insert(items.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(items), a.is_tuple());
    }
    return unsupported();
  }
  if (op == "-") {
    if (!nums) return unsupported();
    return floats ? Value::floating(a.as_float() - b.as_float()) : Value::integer(a.as_int() - b.as_int());
  }
  if (op == "*") {
    if (nums)
      return floats ? Value::floating(a.as_float() * b.as_float()) : Value::integer(a.as_int() * b.as_int());
    const Value* seq = a.is_string() || a.is_list() ? &a : b.is_string() || b.is_list() ? &b : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq == nullptr || !(count->is_int() || count->is_bool())) return unsupported();
    const int64_t n = std::max<int64_t>(0, count->as_int());
    if (n * static_cast<int64_t>(seq->is_string() ? seq->as_string().size() : seq->as_list().size()) >
        (1 << 26)) {
      return make_error(ErrorCode::kResourceExhausted, "repetition too large");
    }
    if (seq->is_string()) {
      std::string out;
      for (int64_t i = 0; i < n; ++i) out += seq->as_string();
      return Value::string(std::move(out));
    }
    Value::List out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq->as_list().begin(), seq->as_list().end());
    return Value::list(std::move(out), seq->is_tuple());
  }
  if (op == "/") {
    if (!nums) return unsupported();
    if (b.as_float() == 0) return type_error("division by zero");
    return Value::floating(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (!nums) {
      if (op == "%" && a.is_string()) return type_error("printf-style string formatting is not supported");
      return unsupported();
    }
    if (b.as_float() == 0)
      return type_error(op == "%" ? "modulo by zero" : "integer division or modulo by zero");
    if (floats) {
      if (op == "%") return Value::floating(py_floor_mod(a.as_float(), b.as_float()));
      return Value::floating(std::floor(a.as_float() / b.as_float()));
    }
    if (op == "//") return Value::integer(py_floor_div(a.as_int(), b.as_int()));
    return Value::integer(a.as_int() - py_floor_div(a.as_int(), b.as_int()) * b.as_int());
  }
  if (op == "**") {
    if (!nums) return unsupported();
    if (!floats && b.as_int() >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < b.as_int() && i < 64; ++i) r *= a.as_int();
      return Value::integer(r);
    }
    return Value::floating(std::pow(a.as_float(), b.as_float()));
  }
  return type_error("unknown operator " + op);
}

Result<bool> compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in" || op == "notin") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string())
        return type_error("'in <string>' requires string as left operand, not " + a.type_name());
      found = b.as_string().find(a.as_string()) != std::string::npos;
    } else if (b.is_list()) {
      found =
          std::any_of(b.as_list().begin(), b.as_list().end(), [&](const Value& x) { return equals(x, a); });
    } else if (b.is_dict()) {
      found = b.find(a) != nullptr;
    } else if (!b.is_undefined()) {
      return type_error(fmt::format("argument of type '{}' is not iterable", b.type_name()));
    }
    return op == "in" ? found : !found;
  }
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  if (op == "<") return less_than(a, b);
  if (op == ">") return less_than(b, a);
  if (op == "<=") {
    auto r = less_than(b, a);
    if (!r) return r;
    return !*r;
  }
  if (op == ">=") {
    auto r = less_than(a, b);
    if (!r) return r;
    return !*r;
  }
  return type_error("unknown comparison " + op);
}

Result<bool> apply_test(const std::string& name, const Value& v, CallArgs& args) {
  const Value* other = arg(args, 0, "other");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  // Jinja2's Undefined defines __call__ (to raise), so callable() holds for it.
  if (name == "callable") return v.is_callable() || v.is_undefined();
  if (name == "lower") return v.is_string() && py_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && py_upper(v.as_string()) == v.as_string();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.is_undefined()) return undefined_error(v);
    if (!v.is_int() && !v.is_bool()) return type_error(name + " test expects an integer");
    if (name == "odd") return v.as_int() % 2 != 0;
    if (name == "even") return v.as_int() % 2 == 0;
    const Value* d = arg(args, 0, "num");
    if (d == nullptr || !(d->is_int() || d->is_bool()) || d->as_int() == 0)
      return type_error("divisibleby needs a non-zero integer");
    return v.as_int() % d->as_int() == 0;
  }
  static const std::pair<const char*, const char*> kCompares[] = {
      {"eq", "=="}, {"equalto", "=="},    {"==", "=="}, {"ne", "!="}, {"!=", "!="},
      {"lt", "<"},  {"lessthan", "<"},    {"<", "<"},   {"le", "<="}, {"<=", "<="},
      {"gt", ">"},  {"greaterthan", ">"}, {">", ">"},   {"ge", ">="}, {">=", ">="}};
  for (const auto& [test, op] : kCompares) {
    if (name == test) {
      if (other == nullptr) return type_error(name + " test needs an argument");
      return compare(op, v, *other);
    }
  }
  if (name == "in") {
    const Value* seq = arg(args, 0, "seq");
    if (seq == nullptr) return type_error("in test needs an argument");
    return compare("in", v, *seq);
  }
  if (name == "sameas") {
    if (other == nullptr) return type_error("sameas test needs an argument");
    if (v.is_none() || v.is_bool() || v.is_undefined()) return equals(v, *other) && v.kind() == other->kind();
    return (v.is_namespace() || v.is_callable()) && equals(v, *other);
  }
  return type_error(fmt::format("No test named '{}'.", name));
}

namespace {

// Jinja2's filters, one function each; apply_filter finds them by name in kFilters.
using FilterFn = Result<Value> (*)(const Value& v, CallArgs& args);

Result<Value> filter_default(const Value& v, CallArgs& args) {
  const Value* dflt = arg(args, 0, "default_value");
  const bool boolean = bool_arg(args, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !v.truthy())) return dflt != nullptr ? *dflt : Value::string("");
  return v;
}

Result<Value> filter_safe(const Value& v, CallArgs&) { return v; }

Result<Value> filter_string(const Value& v, CallArgs&) { return Value::string(v.str()); }

Result<Value> filter_length(const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::integer(0);
  if (v.is_string()) return Value::integer(static_cast<int64_t>(code_points(v.as_string()).size()));
  if (v.is_list()) return Value::integer(static_cast<int64_t>(v.as_list().size()));
  if (v.is_dict()) return Value::integer(static_cast<int64_t>(v.as_dict().size()));
  return type_error(fmt::format("object of type '{}' has no len()", v.type_name()));
}

Result<Value> filter_tojson(const Value& v, CallArgs& args) {
  JsonOptions opt;
  if (const Value* indent = arg(args, 0, "indent"); indent != nullptr && !indent->is_none()) {
    if (!indent->is_int()) return type_error("tojson indent must be an integer");
    opt.indent = static_cast<int>(indent->as_int());
  }
  opt.ensure_ascii = bool_arg(args, 99, "ensure_ascii", false);
  opt.sort_keys = bool_arg(args, 99, "sort_keys", false);
  if (arg(args, 99, "separators") != nullptr) return type_error("tojson separators are not supported");
  if (v.is_undefined()) return type_error("Object of type Undefined is not JSON serializable");
  auto s = to_json(v, opt);
  if (!s) return s.error();
  return Value::string(std::move(*s));
}

Result<Value> filter_trim(const Value& v, CallArgs& args) {
  return Value::string(py_strip(v.str(), arg(args, 0, "chars"), true, true));
}

Result<Value> filter_upper(const Value& v, CallArgs&) { return Value::string(py_upper(v.str())); }

Result<Value> filter_lower(const Value& v, CallArgs&) { return Value::string(py_lower(v.str())); }

Result<Value> filter_capitalize(const Value& v, CallArgs&) { return Value::string(py_capitalize(v.str())); }

// Jinja2's do_title: words start after runs of "-", whitespace or opening brackets.
Result<Value> filter_title(const Value& v, CallArgs&) {
  const auto cps = code_points(v.str());
  std::string out;
  bool at_start = true;
  for (uint32_t cp : cps) {
    const bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_python_space(cp);
    if (sep) {
      out += utf8(cp);
      at_start = true;
    } else {
      out += at_start ? upper_cp(cp) : lower_cp(cp);
      at_start = false;
    }
  }
  return Value::string(std::move(out));
}

Result<Value> filter_replace(const Value& v, CallArgs& args) {
  const Value* o = arg(args, 0, "old");
  const Value* n = arg(args, 1, "new");
  if (o == nullptr || n == nullptr) return type_error("replace needs old and new");
  auto count = int_arg(args, 2, "count", -1);
  if (!count) return count.error();
  return Value::string(py_replace(v.str(), o->str(), n->str(), *count));
}

Result<Value> filter_escape(const Value& v, CallArgs&) {
  std::string out;
  for (char c : v.str()) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return Value::string(std::move(out));
}

Result<Value> filter_indent(const Value& v, CallArgs& args) {
  const Value* width = arg(args, 0, "width");
  std::string indention =
      width != nullptr && width->is_string()
          ? width->as_string()
          : std::string(
                width && width->is_int() ? static_cast<size_t>(std::max<int64_t>(0, width->as_int())) : 4,
                ' ');
  const bool first = bool_arg(args, 1, "first", false);
  const bool blank = bool_arg(args, 2, "blank", false);
  const auto lines = splitlines(v.str() + "\n");
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + indention : "") + lines[i];
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t i = 1; i < lines.size(); ++i)
      rv += "\n" + (lines[i].empty() ? lines[i] : indention + lines[i]);
  }
  if (first) rv = indention + rv;
  return Value::string(std::move(rv));
}

Result<Value> filter_abs(const Value& v, CallArgs&) {
  if (v.is_float()) return Value::floating(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) return Value::integer(std::llabs(v.as_int()));
  return type_error("bad operand type for abs(): '" + v.type_name() + "'");
}

Result<Value> filter_int(const Value& v, CallArgs& args) {
  const Value* d = arg(args, 0, "default");
  auto base = int_arg(args, 1, "base", 10);
  if (!base) return base.error();
  return to_int(v, d != nullptr ? *d : Value::integer(0), static_cast<int>(*base));
}

Result<Value> filter_float(const Value& v, CallArgs& args) {
  const Value* d = arg(args, 0, "default");
  if (v.is_number()) return Value::floating(v.as_float());
  if (v.is_string()) {
    const std::string s = py_strip(v.as_string(), nullptr, true, true);
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && end != nullptr && *end == '\0') return Value::floating(x);
  }
  return d != nullptr ? *d : Value::floating(0.0);
}

Result<Value> filter_round(const Value& v, CallArgs& args) {
  auto precision = int_arg(args, 0, "precision", 0);
  if (!precision) return precision.error();
  const Value* method = arg(args, 1, "method");
  const std::string m = method ? method->str() : "common";
  if (!v.is_number()) return type_error("round needs a number");
  const double scale = std::pow(10.0, static_cast<double>(*precision));
  const double x = v.as_float() * scale;
  double r;
  if (m == "common") {
    r = std::nearbyint(x);
  } else if (m == "ceil") {
    r = std::ceil(x);
  } else if (m == "floor") {
    r = std::floor(x);
  } else {
    return type_error("method must be common, ceil or floor");
  }
  return Value::floating(r / scale);
}

Result<Value> filter_list(const Value& v, CallArgs&) {
  auto items = iterate(v);
  if (!items) return items.error();
  return Value::list(std::move(*items));
}

// first and last; `name` names the filter in the empty-sequence message.
Result<Value> end_item(const Value& v, bool front, std::string_view name) {
  auto items = iterate(v);
  if (!items) return items.error();
  if (items->empty()) return Value::undefined(fmt::format("No {} item, sequence was empty.", name));
  return front ? items->front() : items->back();
}

Result<Value> filter_first(const Value& v, CallArgs&) { return end_item(v, true, "first"); }

Result<Value> filter_last(const Value& v, CallArgs&) { return end_item(v, false, "last"); }

Result<Value> filter_reverse(const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto cps = code_points(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(from_code_points(cps, 0, cps.size()));
  }
  auto items = iterate(v);
  if (!items) return items.error();
  std::reverse(items->begin(), items->end());
  return Value::list(std::move(*items));
}

Result<Value> filter_join(const Value& v, CallArgs& args) {
  auto items = iterate(v);
  if (!items) return items.error();
  const Value* sep = arg(args, 0, "d");
  const Value* attribute = arg(args, 1, "attribute");
  std::string out;
  for (size_t i = 0; i < items->size(); ++i) {
    auto item = item_or_attribute((*items)[i], attribute);
    if (!item) return item;
    if (i > 0 && sep != nullptr) out += sep->str();
    out += item->str();
  }
  return Value::string(std::move(out));
}

Result<Value> filter_sort(const Value& v, CallArgs& args) {
  auto items = iterate(v);
  if (!items) return items.error();
  auto s = sorted(std::move(*items), arg(args, 2, "attribute"), bool_arg(args, 1, "case_sensitive", false),
                  bool_arg(args, 0, "reverse", false));
  if (!s) return s.error();
  return Value::list(std::move(*s));
}

Result<Value> filter_unique(const Value& v, CallArgs& args) {
  auto items = iterate(v);
  if (!items) return items.error();
  const bool cs = bool_arg(args, 0, "case_sensitive", false);
  const Value* attribute = arg(args, 1, "attribute");
  std::vector<Value> seen, out;
  for (const auto& item : *items) {
    auto k = sort_key(item, attribute, cs);
    if (!k) return k;
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, *k); })) continue;
    seen.push_back(*k);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

// A mapping's (key, value) tuples, for items and dictsort; `name` names the filter in the error.
Result<Value::List> mapping_pairs(const Value& v, std::string_view name) {
  if (!v.is_dict()) return type_error(std::string(name) + " needs a mapping");
  Value::List pairs;
  for (const auto& kv : v.as_dict()) pairs.push_back(Value::list({kv.first, kv.second}, true));
  return pairs;
}

Result<Value> filter_items(const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::list({});
  auto pairs = mapping_pairs(v, "items");
  if (!pairs) return pairs.error();
  return Value::list(std::move(*pairs));
}

Result<Value> filter_dictsort(const Value& v, CallArgs& args) {
  if (v.is_undefined()) return Value::list({});
  auto pairs = mapping_pairs(v, "dictsort");
  if (!pairs) return pairs.error();
  const bool cs = bool_arg(args, 0, "case_sensitive", false);
  const Value* by = arg(args, 1, "by");
  const bool by_value = by != nullptr && by->str() == "value";
  const Value pos = Value::string(by_value ? "1" : "0");
  auto s = sorted(std::move(*pairs), &pos, cs, bool_arg(args, 2, "reverse", false));
  if (!s) return s.error();
  return Value::list(std::move(*s));
}

Result<Value> filter_sum(const Value& v, CallArgs& args) {
  auto items = iterate(v);
  if (!items) return items.error();
  const Value* attribute = arg(args, 0, "attribute");
  const Value* start = arg(args, 1, "start");
  Value total = start != nullptr ? *start : Value::integer(0);
  for (const auto& item : *items) {
    auto x = item_or_attribute(item, attribute);
    if (!x) return x;
    auto t = binary_op("+", total, *x);
    if (!t) return t;
    total = std::move(*t);
  }
  return total;
}

Result<Value> filter_map(const Value& v, CallArgs& args) {
  auto items = iterate(v);
  if (!items) return items.error();
  Value::List out;
  const Value* attribute = nullptr;
  const Value* dflt = nullptr;
  for (const auto& kw : args.keyword) {
    if (kw.first == "attribute") attribute = &kw.second;
    if (kw.first == "default") dflt = &kw.second;
  }
  if (attribute != nullptr) {
    for (const auto& item : *items) {
      auto a = attr_path(item, attribute->str());
      if (!a) return a;
      out.push_back(a->is_undefined() && dflt != nullptr ? *dflt : *a);
    }
    return Value::list(std::move(out));
  }
  if (args.positional.empty()) return type_error("map requires a filter argument");
  const std::string filter = args.positional[0].str();
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const auto& item : *items) {
    CallArgs a = rest;
    auto r = apply_filter(filter, item, a);
    if (!r) return r;
    out.push_back(std::move(*r));
  }
  return Value::list(std::move(out));
}

// select, reject, selectattr and rejectattr: keep the items (or, by_attr, the items whose
// attribute) pass the named test, or are truthy without one, exactly when keep_on.
Result<Value> filter_by_test(const Value& v, CallArgs& args, std::string_view name, bool by_attr,
                             bool keep_on) {
  auto items = iterate(v);
  if (!items) return items.error();
  size_t at = 0;
  std::string attribute;
  if (by_attr) {
    if (args.positional.empty()) return type_error(std::string(name) + " requires an attribute");
    attribute = args.positional[at++].str();
  }
  std::string test;
  if (at < args.positional.size()) test = args.positional[at++].str();
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(at), args.positional.end());
  test_args.keyword = args.keyword;
  Value::List out;
  for (const auto& item : *items) {
    Value x = item;
    if (by_attr) {
      auto a = attr_path(item, attribute);
      if (!a) return a;
      x = std::move(*a);
    }
    bool ok;
    if (test.empty()) {
      ok = x.truthy();
    } else {
      CallArgs ta = test_args;
      auto t = apply_test(test, x, ta);
      if (!t) return t.error();
      ok = *t;
    }
    if (ok == keep_on) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Result<Value> filter_select(const Value& v, CallArgs& args) {
  return filter_by_test(v, args, "select", false, true);
}

Result<Value> filter_reject(const Value& v, CallArgs& args) {
  return filter_by_test(v, args, "reject", false, false);
}

Result<Value> filter_selectattr(const Value& v, CallArgs& args) {
  return filter_by_test(v, args, "selectattr", true, true);
}

Result<Value> filter_rejectattr(const Value& v, CallArgs& args) {
  return filter_by_test(v, args, "rejectattr", true, false);
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
  // The filter works on str(value), and str(undefined) is "": an undefined input becomes "".
  bool undefined_as_empty = false;
};

// Sorted by name, for binary search.
constexpr FilterEntry kFilters[] = {
    {"abs", filter_abs},
    {"capitalize", filter_capitalize, true},
    {"count", filter_length},
    {"d", filter_default},
    {"default", filter_default},
    {"dictsort", filter_dictsort},
    {"e", filter_escape, true},
    {"escape", filter_escape, true},
    {"first", filter_first},
    {"float", filter_float},
    {"indent", filter_indent, true},
    {"int", filter_int},
    {"items", filter_items},
    {"join", filter_join},
    {"last", filter_last},
    {"length", filter_length},
    {"list", filter_list},
    {"lower", filter_lower, true},
    {"map", filter_map},
    {"reject", filter_reject},
    {"rejectattr", filter_rejectattr},
    {"replace", filter_replace, true},
    {"reverse", filter_reverse},
    {"round", filter_round},
    {"safe", filter_safe},
    {"select", filter_select},
    {"selectattr", filter_selectattr},
    {"sort", filter_sort},
    {"string", filter_string},
    {"sum", filter_sum},
    {"title", filter_title, true},
    {"tojson", filter_tojson},
    {"trim", filter_trim, true},
    {"unique", filter_unique},
    {"upper", filter_upper, true},
};

constexpr bool filter_name_less(const FilterEntry& a, const FilterEntry& b) { return a.name < b.name; }
static_assert(std::is_sorted(std::begin(kFilters), std::end(kFilters), filter_name_less),
              "kFilters must stay sorted by name");

}  // namespace

Result<Value> apply_filter(const std::string& name, const Value& v, CallArgs& args) {
  const auto* it = std::lower_bound(std::begin(kFilters), std::end(kFilters), FilterEntry{name, nullptr},
                                    filter_name_less);
  if (it == std::end(kFilters) || it->name != name) {
    return type_error(fmt::format("No filter named '{}'.", name));
  }
  if (it->undefined_as_empty && v.is_undefined()) return it->fn(Value::string(""), args);
  return it->fn(v, args);
}

}  // namespace llmd::jinja
