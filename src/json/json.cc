#include "json/json.h"

// basic_parser_impl.hpp instantiates the parser for our handler; it belongs in exactly one TU.
#include <cmath>
#include <exception>
#include <new>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>
#include <fmt/format.h>

namespace llmd::json {

namespace {

// The stock boost::json::parser handler plus a run-time string-length limit: Boost.JSON only
// offers compile-time string limits, and checking during the parse fails before the copy.
struct LimitedHandler {
  // NOLINTBEGIN(readability-identifier-naming): basic_parser requires these names.
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();
  // NOLINTEND(readability-identifier-naming)

  boost::json::value_stack st;
  std::size_t max_string_bytes;

  explicit LimitedHandler(std::size_t max_string) : max_string_bytes(max_string) {}

  bool check(std::size_t n, boost::json::error e, boost::json::error_code& ec) const {
    if (n <= max_string_bytes) return true;
    ec = e;
    return false;
  }
  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }
  bool on_object_begin(boost::json::error_code&) { return true; }
  bool on_object_end(std::size_t n, boost::json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(boost::json::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!check(n, boost::json::error::key_too_large, ec)) return false;
    st.push_chars(s);
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!check(n, boost::json::error::key_too_large, ec)) return false;
    st.push_key(s);
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!check(n, boost::json::error::string_too_large, ec)) return false;
    st.push_chars(s);
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!check(n, boost::json::error::string_too_large, ec)) return false;
    st.push_string(s);
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_int64(int64_t i, boost::json::string_view, boost::json::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, boost::json::string_view, boost::json::error_code&) {
    st.push_uint64(u);
    return true;
  }
  // Numbers beyond double range parse as infinity in Boost.JSON, which then serializes as
  // `Infinity`, not JSON; a body we may forward must stay valid.
  bool on_double(double d, boost::json::string_view, boost::json::error_code& ec) {
    if (!std::isfinite(d)) {
      ec = boost::json::error::exponent_overflow;
      return false;
    }
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(boost::json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

using LimitedParser = boost::json::basic_parser<LimitedHandler>;

boost::json::parse_options options_for(const ParseLimits& limits) {
  boost::json::parse_options opt;
  opt.max_depth = limits.max_depth;
  return opt;
}

std::string reason(const boost::json::error_code& ec, const ParseLimits& limits) {
  if (ec == boost::json::error::too_deep)
    return fmt::format("nesting deeper than {} levels", limits.max_depth);
  if (ec == boost::json::error::string_too_large) {
    return fmt::format("string longer than {} bytes", limits.max_string_bytes);
  }
  if (ec == boost::json::error::key_too_large)
    return fmt::format("key longer than {} bytes", limits.max_string_bytes);
  if (ec == boost::json::error::exponent_overflow) return "number out of range";
  if (ec == boost::json::error::incomplete) return "unexpected end of input";
  if (ec == boost::json::error::extra_data) return "unexpected data after the JSON value";
  return ec.message();
}

Result<boost::json::value> run(LimitedParser& p, const ParseLimits& limits, std::string_view text,
                               boost::json::storage_ptr sp) {
  if (text.size() > limits.max_bytes) {
    return Error(
        ErrorCode::kResourceExhausted,
        fmt::format("JSON body of {} bytes exceeds the limit of {} bytes", text.size(), limits.max_bytes));
  }
  try {
    p.reset();
    p.handler().st.reset(std::move(sp));
    boost::json::error_code ec;
    const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
    if (!ec && n < text.size()) ec = boost::json::error::extra_data;
    if (ec) {
      p.handler().st.reset();  // drop partial values now rather than at the next parse
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("invalid JSON at byte {}: {}", n, reason(ec, limits)));
    }
    return p.handler().st.release();
  } catch (const std::bad_alloc&) {
    p.handler().st.reset();  // free partial values while the caller's storage is alive
    return Error(ErrorCode::kResourceExhausted, "out of memory while parsing JSON");
  } catch (const std::exception& e) {
    // value_stack reports containers over Boost.JSON's own size limits by throwing.
    p.handler().st.reset();
    return Error(ErrorCode::kInvalidArgument, fmt::format("invalid JSON: {}", e.what()));
  }
}

}  // namespace

struct Parser::Impl {
  explicit Impl(const ParseLimits& limits) : parser(options_for(limits), limits.max_string_bytes) {}
  LimitedParser parser;
};

Parser::Parser(const ParseLimits& limits) : limits_(limits), impl_(std::make_unique<Impl>(limits)) {}
Parser::~Parser() = default;

Result<boost::json::value> Parser::parse(std::string_view text, boost::json::storage_ptr sp) {
  return run(impl_->parser, limits_, text, std::move(sp));
}

Result<boost::json::value> parse(std::string_view text, const ParseLimits& limits,
                                 boost::json::storage_ptr sp) {
  LimitedParser p(options_for(limits), limits.max_string_bytes);
  return run(p, limits, text, std::move(sp));
}

std::string_view kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------

namespace detail {

std::string path_to_string(const PathLink& link, std::string_view leaf_key, const std::size_t* leaf_index) {
  std::vector<const PathLink*> chain;
  for (const PathLink* l = &link; l != nullptr && !l->is_root; l = l->parent) chain.push_back(l);
  std::string out;
  auto append_key = [&out](std::string_view k) {
    if (!out.empty()) out.push_back('.');
    out.append(k);
  };
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if ((*it)->is_index) {
      fmt::format_to(std::back_inserter(out), "[{}]", (*it)->index);
    } else {
      append_key((*it)->key);
    }
  }
  if (leaf_index != nullptr) {
    fmt::format_to(std::back_inserter(out), "[{}]", *leaf_index);
  } else if (!leaf_key.empty()) {
    append_key(leaf_key);
  }
  return out;
}

}  // namespace detail

namespace {

enum class Conv { kOk, kWrongType, kFractional, kRange };

Conv to_int(const boost::json::value& v, int64_t& out) {
  switch (v.kind()) {
    case boost::json::kind::int64:
      out = v.get_int64();
      return Conv::kOk;
    case boost::json::kind::uint64:
      if (v.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return Conv::kRange;
      out = static_cast<int64_t>(v.get_uint64());
      return Conv::kOk;
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (std::trunc(d) != d) return Conv::kFractional;
      // [-2^63, 2^63): both bounds are exact doubles.
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return Conv::kRange;
      out = static_cast<int64_t>(d);
      return Conv::kOk;
    }
    default:
      return Conv::kWrongType;
  }
}

// The value as the client sent it, for error messages: scalars only, strings cut at 40 bytes.
std::string shown(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return fmt::format("{}", v.get_double());  // shortest form: 1.5, 1e+300 (Boost writes 1.5E0)
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::bool_:
      return boost::json::serialize(v);
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      if (s.size() <= 40) return boost::json::serialize(v);
      return boost::json::serialize(boost::json::value(std::string_view(s).substr(0, 40))) + "...";
    }
    default:
      return {};
  }
}

std::string type_problem(std::string_view expected, const boost::json::value& got) {
  const std::string value = shown(got);
  if (value.empty()) return fmt::format("expected {}, got {}", expected, kind_name(got));
  return fmt::format("expected {}, got {} {}", expected, kind_name(got), value);
}

}  // namespace

void Extractor::fail(std::string path, std::string_view problem) {
  if (error_) return;
  std::string message = path.empty() ? std::string(problem) : fmt::format("{}: {}", path, problem);
  error_path_ = std::move(path);
  error_.emplace(ErrorCode::kInvalidArgument, std::move(message));
}

ObjectReader Extractor::root(const boost::json::value& v) {
  const boost::json::object* o = v.if_object();
  if (o == nullptr) fail(std::string(), type_problem("object", v));
  return ObjectReader(detail::ReaderKey{}, this, o, nullptr, {}, 0, false, true);
}

ObjectReader Extractor::root(const boost::json::object& o) {
  return ObjectReader(detail::ReaderKey{}, this, &o, nullptr, {}, 0, false, true);
}

// ---------------------------------------------------------------------------------------------

ObjectReader::ObjectReader(detail::ReaderKey, Extractor* ex, const boost::json::object* obj,
                           const detail::PathLink* parent, std::string_view key, std::size_t index,
                           bool is_index, bool is_root)
    : ex_(ex), obj_(obj), link_{parent, key, index, is_index, is_root} {}

Presence ObjectReader::presence(std::string_view key) const {
  const boost::json::value* v = find(key);
  if (v == nullptr) return Presence::kMissing;
  return v->is_null() ? Presence::kNull : Presence::kPresent;
}

const boost::json::value* ObjectReader::find(std::string_view key) const {
  return obj_ == nullptr ? nullptr : obj_->if_contains(key);
}

void ObjectReader::fail_at(std::string_view key, std::string_view problem) {
  if (!ex_->ok()) return;  // keep the path build off the path of later errors
  ex_->fail(detail::path_to_string(link_, key, nullptr), problem);
}

void ObjectReader::fail(std::string_view key, std::string_view problem) {
  if (obj_ != nullptr) fail_at(key, problem);
}

void ObjectReader::fail_type(std::string_view key, std::string_view expected) {
  const boost::json::value* v = find(key);
  if (v == nullptr) {
    fail(key, "field required");
  } else {
    fail(key, type_problem(expected, *v));
  }
}

std::string ObjectReader::path() const { return detail::path_to_string(link_, {}, nullptr); }

// Returns the member when present and non-null; otherwise records "field required" (missing and
// required) or "expected X, got null" (null and required) and returns nullptr.
const boost::json::value* ObjectReader::member(std::string_view key, std::string_view expected,
                                               bool required) {
  if (obj_ == nullptr) return nullptr;
  const boost::json::value* v = obj_->if_contains(key);
  if (v == nullptr) {
    if (required) fail_at(key, "field required");
    return nullptr;
  }
  if (v->is_null()) {
    if (required) fail_at(key, type_problem(expected, *v));
    return nullptr;
  }
  return v;
}

std::string_view ObjectReader::required_string(std::string_view key) {
  const boost::json::value* v = member(key, "string", true);
  if (v == nullptr) return {};
  if (const boost::json::string* s = v->if_string()) return std::string_view(s->data(), s->size());
  fail_at(key, type_problem("string", *v));
  return {};
}

std::optional<std::string_view> ObjectReader::optional_string(std::string_view key) {
  const boost::json::value* v = member(key, "string", false);
  if (v == nullptr) return std::nullopt;
  if (const boost::json::string* s = v->if_string()) return std::string_view(s->data(), s->size());
  fail_at(key, type_problem("string", *v));
  return std::nullopt;
}

namespace {
template <class Fail>
std::optional<int64_t> int_from(const boost::json::value& v, Fail&& fail) {
  int64_t out = 0;
  switch (to_int(v, out)) {
    case Conv::kOk:
      return out;
    case Conv::kWrongType:
      fail(type_problem("integer", v));
      break;
    case Conv::kFractional:
      fail(fmt::format("expected integer, got {}", shown(v)));
      break;
    case Conv::kRange:
      fail(fmt::format("integer out of range: {}", shown(v)));
      break;
  }
  return std::nullopt;
}
}  // namespace

std::optional<int64_t> ObjectReader::optional_int(std::string_view key) {
  const boost::json::value* v = member(key, "integer", false);
  if (v == nullptr) return std::nullopt;
  return int_from(*v, [&](std::string_view p) { fail_at(key, p); });
}

int64_t ObjectReader::required_int(std::string_view key) {
  const boost::json::value* v = member(key, "integer", true);
  if (v == nullptr) return 0;
  return int_from(*v, [&](std::string_view p) { fail_at(key, p); }).value_or(0);
}

std::optional<double> ObjectReader::optional_double(std::string_view key) {
  const boost::json::value* v = member(key, "number", false);
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->to_number<double>();
  fail_at(key, type_problem("number", *v));
  return std::nullopt;
}

std::optional<bool> ObjectReader::optional_bool(std::string_view key) {
  const boost::json::value* v = member(key, "boolean", false);
  if (v == nullptr) return std::nullopt;
  if (v->is_bool()) return v->get_bool();
  fail_at(key, type_problem("boolean", *v));
  return std::nullopt;
}

ObjectReader ObjectReader::required_object(std::string_view key) {
  const boost::json::value* v = member(key, "object", true);
  const boost::json::object* o = v == nullptr ? nullptr : v->if_object();
  if (v != nullptr && o == nullptr) fail_at(key, type_problem("object", *v));
  return ObjectReader(detail::ReaderKey{}, ex_, o, &link_, key, 0, false, false);
}

ObjectReader ObjectReader::optional_object(std::string_view key) {
  const boost::json::value* v = member(key, "object", false);
  const boost::json::object* o = v == nullptr ? nullptr : v->if_object();
  if (v != nullptr && o == nullptr) fail_at(key, type_problem("object", *v));
  return ObjectReader(detail::ReaderKey{}, ex_, o, &link_, key, 0, false, false);
}

ArrayReader ObjectReader::required_array(std::string_view key) {
  const boost::json::value* v = member(key, "array", true);
  const boost::json::array* a = v == nullptr ? nullptr : v->if_array();
  if (v != nullptr && a == nullptr) fail_at(key, type_problem("array", *v));
  return ArrayReader(detail::ReaderKey{}, ex_, a, &link_, key, 0, false, false);
}

ArrayReader ObjectReader::optional_array(std::string_view key) {
  const boost::json::value* v = member(key, "array", false);
  const boost::json::array* a = v == nullptr ? nullptr : v->if_array();
  if (v != nullptr && a == nullptr) fail_at(key, type_problem("array", *v));
  return ArrayReader(detail::ReaderKey{}, ex_, a, &link_, key, 0, false, false);
}

// ---------------------------------------------------------------------------------------------

ArrayReader::ArrayReader(detail::ReaderKey, Extractor* ex, const boost::json::array* arr,
                         const detail::PathLink* parent, std::string_view key, std::size_t index,
                         bool is_index, bool is_root)
    : ex_(ex), arr_(arr), link_{parent, key, index, is_index, is_root} {}

std::size_t ArrayReader::size() const { return arr_ == nullptr ? 0 : arr_->size(); }

void ArrayReader::fail(std::size_t i, std::string_view problem) {
  if (arr_ == nullptr || !ex_->ok()) return;
  ex_->fail(detail::path_to_string(link_, {}, &i), problem);
}

void ArrayReader::fail_type(std::size_t i, std::string_view expected) {
  if (arr_ == nullptr) return;
  if (i >= arr_->size()) {
    fail(i, "index out of range");
  } else {
    fail(i, type_problem(expected, (*arr_)[i]));
  }
}

std::string ArrayReader::path() const { return detail::path_to_string(link_, {}, nullptr); }

const boost::json::value* ArrayReader::element(std::size_t i) {
  if (arr_ == nullptr) return nullptr;
  if (i >= arr_->size()) {
    fail(i, "index out of range");
    return nullptr;
  }
  return &(*arr_)[i];
}

std::optional<std::string_view> ArrayReader::string(std::size_t i) {
  const boost::json::value* v = element(i);
  if (v == nullptr) return std::nullopt;
  if (const boost::json::string* s = v->if_string()) return std::string_view(s->data(), s->size());
  fail_type(i, "string");
  return std::nullopt;
}

std::optional<int64_t> ArrayReader::integer(std::size_t i) {
  const boost::json::value* v = element(i);
  if (v == nullptr) return std::nullopt;
  return int_from(*v, [&](std::string_view p) { fail(i, p); });
}

std::optional<double> ArrayReader::number(std::size_t i) {
  const boost::json::value* v = element(i);
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->to_number<double>();
  fail_type(i, "number");
  return std::nullopt;
}

std::optional<bool> ArrayReader::boolean(std::size_t i) {
  const boost::json::value* v = element(i);
  if (v == nullptr) return std::nullopt;
  if (v->is_bool()) return v->get_bool();
  fail_type(i, "boolean");
  return std::nullopt;
}

ObjectReader ArrayReader::object(std::size_t i) {
  const boost::json::value* v = element(i);
  const boost::json::object* o = v == nullptr ? nullptr : v->if_object();
  if (v != nullptr && o == nullptr) fail_type(i, "object");
  return ObjectReader(detail::ReaderKey{}, ex_, o, &link_, {}, i, true, false);
}

ArrayReader ArrayReader::array(std::size_t i) {
  const boost::json::value* v = element(i);
  const boost::json::array* a = v == nullptr ? nullptr : v->if_array();
  if (v != nullptr && a == nullptr) fail_type(i, "array");
  return ArrayReader(detail::ReaderKey{}, ex_, a, &link_, {}, i, true, false);
}

}  // namespace llmd::json
