#pragma once
// JSON helpers on Boost.JSON for request bodies: parsing under explicit limits, and typed extraction
// whose errors name the path (`messages[2].content: expected string, got number`). Nothing here
// throws; extraction allocates only when it records an error.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include "common/error.h"

namespace llmd::json {

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

struct ParseLimits {
  std::size_t max_bytes = std::size_t{16} << 20;         // whole input
  std::size_t max_depth = 64;                            // nested arrays/objects
  std::size_t max_string_bytes = std::size_t{16} << 20;  // any one string or key, after unescaping
};

// Error codes: input over `max_bytes` is kResourceExhausted (HTTP 413); everything else, including
// depth and string-length limits, is kInvalidArgument with `invalid JSON at byte N: <reason>`.
// Strict RFC 8259: no comments, no trailing commas, valid UTF-8, exactly one value, and numbers
// within double range (Boost.JSON would make infinities that serialize as invalid JSON). The byte
// offset of a string over the limit is where that string ends.
//
// A reusable parser. It keeps its scratch buffers between calls, so a worker thread that owns one
// parses each request body without re-growing them. Not thread-safe: one per thread.
class Parser {
 public:
  explicit Parser(const ParseLimits& limits = {});
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // The returned value allocates from `sp` (default: the global heap). Pass a storage_ptr to a
  // boost::json::monotonic_resource to make a body's DOM one arena freed in one go; the resource
  // must outlive the value.
  Result<boost::json::value> parse(std::string_view text, boost::json::storage_ptr sp = {});

  const ParseLimits& limits() const { return limits_; }

 private:
  struct Impl;
  ParseLimits limits_;
  std::unique_ptr<Impl> impl_;
};

// One-shot form of Parser::parse.
Result<boost::json::value> parse(std::string_view text, const ParseLimits& limits = {},
                                 boost::json::storage_ptr sp = {});

// "null", "boolean", "number", "string", "array" or "object": the JSON names used in messages.
std::string_view kind_name(const boost::json::value& v);

// ---------------------------------------------------------------------------------------------
// Typed extraction
// ---------------------------------------------------------------------------------------------
//
//   json::Extractor ex;
//   json::ObjectReader body = ex.root(value);
//   std::string_view model = body.required_string("model");
//   std::optional<int64_t> max_tokens = body.optional_int("max_tokens");
//   if (json::ArrayReader msgs = body.required_array("messages")) {
//     for (std::size_t i = 0; i < msgs.size(); ++i) {
//       json::ObjectReader m = msgs.object(i);
//       std::string_view role = m.required_string("role");  // "messages[3].role: field required"
//     }
//   }
//   if (!ex.ok()) return ex.error();  // kInvalidArgument, first error only; ex.error_path() = param
//
// Conventions, following the OpenAI API: an optional field that is missing or `null` yields
// std::nullopt; a required field that is missing is "field required" and one that is `null` is
// "expected <type>, got null". Only the first error is kept; reads after it still return values.
// An integer field accepts a number with no fractional part (`10.0`), as pydantic does; a number
// field accepts integers. Strings are string_views into the parsed value, which must outlive them.
//
// Readers are cheap views (a few pointers) that link to their parent for the path, so they can
// be neither copied nor moved: keep them as locals, created in place. A reader for an absent or
// mistyped object/array is "empty" (false in a boolean context); reads on it return nothing and
// record nothing, since the absence was already judged by whoever asked for it. On an error,
// required_* return an empty/zero value and optional_* return std::nullopt.

class Extractor;
class ObjectReader;
class ArrayReader;

namespace detail {
// One step of a path: a key (parent object) or an index (parent array). Paths are built as text
// only when an error is recorded.
struct PathLink {
  const PathLink* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;
  bool is_root = true;
};
std::string path_to_string(const PathLink& link, std::string_view leaf_key, const std::size_t* leaf_index);
struct ReaderKey {  // passkey: only Extractor/readers construct readers
 private:
  ReaderKey() = default;
  friend class llmd::json::Extractor;
  friend class llmd::json::ObjectReader;
  friend class llmd::json::ArrayReader;
};
}  // namespace detail

class Extractor {
 public:
  Extractor() = default;
  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // A reader over the top-level value; records "expected object, got array" if it is not one.
  ObjectReader root(const boost::json::value& v);
  ObjectReader root(const boost::json::object& o);

  bool ok() const { return !error_.has_value(); }
  // The first error: {kInvalidArgument, "<path>: <problem>"} (just "<problem>" at the root).
  const Error& error() const { return *error_; }
  // The path of the first error (`messages[2].content`), for the OpenAI `param` field.
  const std::string& error_path() const { return error_path_; }

  // Records an error at an explicit path; ignored if an error is already recorded.
  void fail(std::string path, std::string_view problem);

 private:
  std::optional<Error> error_;
  std::string error_path_;
};

enum class Presence { kMissing, kNull, kPresent };

class ObjectReader {
 public:
  ObjectReader(detail::ReaderKey, Extractor* ex, const boost::json::object* obj,
               const detail::PathLink* parent, std::string_view key, std::size_t index, bool is_index,
               bool is_root);
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  explicit operator bool() const { return obj_ != nullptr; }
  const boost::json::object* object() const { return obj_; }
  Presence presence(std::string_view key) const;
  // The raw member, or nullptr if missing (a JSON null is returned as a null value).
  const boost::json::value* find(std::string_view key) const;

  std::string_view required_string(std::string_view key);
  std::optional<std::string_view> optional_string(std::string_view key);
  int64_t required_int(std::string_view key);
  std::optional<int64_t> optional_int(std::string_view key);
  std::optional<double> optional_double(std::string_view key);
  std::optional<bool> optional_bool(std::string_view key);
  ObjectReader required_object(std::string_view key);
  ObjectReader optional_object(std::string_view key);
  ArrayReader required_array(std::string_view key);
  ArrayReader optional_array(std::string_view key);

  // For callers' own checks: records "<path>.<key>: <problem>".
  void fail(std::string_view key, std::string_view problem);
  // Records "<path>.<key>: expected <expected>, got <kind of the member>"; for union-typed fields
  // such as `content` (string or array) that the caller inspects through find().
  void fail_type(std::string_view key, std::string_view expected);
  // This object's own path (allocates; for messages).
  std::string path() const;

 private:
  friend class ArrayReader;
  const boost::json::value* member(std::string_view key, std::string_view expected, bool required);
  void fail_at(std::string_view key, std::string_view problem);

  Extractor* ex_;
  const boost::json::object* obj_;
  detail::PathLink link_;
};

class ArrayReader {
 public:
  ArrayReader(detail::ReaderKey, Extractor* ex, const boost::json::array* arr, const detail::PathLink* parent,
              std::string_view key, std::size_t index, bool is_index, bool is_root);
  ArrayReader(const ArrayReader&) = delete;
  ArrayReader& operator=(const ArrayReader&) = delete;

  explicit operator bool() const { return arr_ != nullptr; }
  const boost::json::array* array() const { return arr_; }
  std::size_t size() const;
  // Raw element; `i` must be below size().
  const boost::json::value& at(std::size_t i) const { return (*arr_)[i]; }

  // Element accessors record "<path>[i]: expected <type>, got <kind>" on a mismatch (null included).
  std::optional<std::string_view> string(std::size_t i);
  std::optional<int64_t> integer(std::size_t i);
  std::optional<double> number(std::size_t i);
  std::optional<bool> boolean(std::size_t i);
  ObjectReader object(std::size_t i);
  ArrayReader array(std::size_t i);

  void fail(std::size_t i, std::string_view problem);
  void fail_type(std::size_t i, std::string_view expected);
  std::string path() const;

 private:
  friend class ObjectReader;
  const boost::json::value* element(std::size_t i);

  Extractor* ex_;
  const boost::json::array* arr_;
  detail::PathLink link_;
};

}  // namespace llmd::json
