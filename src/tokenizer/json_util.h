#pragma once
// Typed access to tokenizer.json fields with errors that name the exact path, e.g.
// "pre_tokenizer.pretokenizers[1].behavior: expected string".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/error.h"

namespace llmd::tokenizer::json {

inline Error type_error(std::string_view path, std::string_view expected) {
  return make_error(ErrorCode::kConfig, fmt::format("{}: expected {}", path, expected));
}

inline std::string child(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

inline std::string index(std::string_view path, size_t i) { return fmt::format("{}[{}]", path, i); }

inline Result<const boost::json::object*> as_object(const boost::json::value& v, std::string_view path) {
  if (!v.is_object()) return type_error(path, "object");
  return &v.get_object();
}

inline Result<const boost::json::array*> as_array(const boost::json::value& v, std::string_view path) {
  if (!v.is_array()) return type_error(path, "array");
  return &v.get_array();
}

// A present, non-null field or nullptr.
inline const boost::json::value* find(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

inline Result<std::string> get_string(const boost::json::object& o, std::string_view key,
                                      std::string_view path) {
  const auto* v = find(o, key);
  if (v == nullptr || !v->is_string()) return type_error(child(path, key), "string");
  return std::string(v->get_string());
}

inline Result<std::optional<std::string>> get_optional_string(const boost::json::object& o,
                                                              std::string_view key, std::string_view path) {
  const auto* v = find(o, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return type_error(child(path, key), "string or null");
  return std::optional<std::string>(std::string(v->get_string()));
}

inline Result<bool> get_bool(const boost::json::object& o, std::string_view key, std::string_view path,
                             bool dflt) {
  const auto* v = find(o, key);
  if (v == nullptr) return dflt;
  if (!v->is_bool()) return type_error(child(path, key), "boolean");
  return v->get_bool();
}

inline Result<uint64_t> get_uint(const boost::json::object& o, std::string_view key, std::string_view path,
                                 std::optional<uint64_t> dflt) {
  const auto* v = find(o, key);
  if (v == nullptr) {
    if (dflt) return *dflt;
    return type_error(child(path, key), "non-negative integer");
  }
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return type_error(child(path, key), "non-negative integer");
}

}  // namespace llmd::tokenizer::json
