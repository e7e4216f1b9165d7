#pragma once
// Values of the Jinja subset that chat templates use, with Python's semantics: truthiness,
// equality and ordering, str() and repr(), and json.dumps for the tojson filter. Lists and dicts
// are shared and immutable (as in Jinja2's ImmutableSandboxedEnvironment); namespaces are shared
// and mutable through `{% set ns.attr = ... %}`.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "common/error.h"

namespace llmd::jinja {

class Value;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

using Callable = std::function<Result<Value>(CallArgs&)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable };

  using List = std::vector<Value>;
  // Insertion-ordered, like a Python dict.
  using Dict = std::vector<std::pair<Value, Value>>;

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double d);
  static Value string(std::string s);
  static Value list(List items, bool tuple = false);
  static Value dict(Dict items);
  static Value make_namespace(Dict items = {});
  static Value callable(Callable fn, std::string name);
  // Converts JSON (objects keep their key order).
  static Value from_json(const boost::json::value& v);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kList && tuple_; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_float() const { return kind_ == Kind::kFloat ? d_ : static_cast<double>(as_int()); }
  const std::string& as_string() const { return *s_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& namespace_items() const { return *dict_; }
  const Callable& as_callable() const { return *fn_; }
  // For undefined values: what was looked up (for error messages).
  const std::string& hint() const {
    static const std::string kEmpty;
    return s_ ? *s_ : kEmpty;
  }

  // Containers nested inside this value, counting itself (0 for a scalar), as built; a
  // namespace counts the attributes it was created with.
  uint32_t nesting() const { return nesting_; }
  // Whether a namespace is inside this list, dict or namespace.
  bool holds_namespace() const { return holds_namespace_; }

  // Dict or namespace lookup by string key; nullptr when absent.
  const Value* find(std::string_view key) const;
  // Dict lookup by any key with Python equality.
  const Value* find(const Value& key) const;

  bool truthy() const;
  // Python str(); undefined is "".
  std::string str() const;
  // Python repr().
  std::string repr() const;
  // Python's type name, for error messages ("str", "int", "dict", ...).
  std::string type_name() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  bool tuple_ = false;
  bool holds_namespace_ = false;
  uint32_t nesting_ = 0;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Callable> fn_;
};

// Python ==.
bool equals(const Value& a, const Value& b);
// Python <; an error for unorderable types.
Result<bool> less_than(const Value& a, const Value& b);

// Python repr() of a float ("1.0", "1e-05", "1e+16", "inf", "nan").
std::string float_repr(double d);
// Python repr() of a str.
std::string string_repr(std::string_view s);

struct JsonOptions {
  std::optional<int> indent;  // json.dumps(indent=...)
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// json.dumps with the given options and the default separators.
Result<std::string> to_json(const Value& v, const JsonOptions& options);

// Code-point helpers for Python string semantics on UTF-8.
std::vector<uint32_t> code_points(std::string_view s);
std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end);
bool is_python_space(uint32_t cp);

}  // namespace llmd::jinja
