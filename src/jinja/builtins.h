#pragma once
// Jinja2's operators, attribute and item lookup, filters, tests and globals over Values, with
// Python's semantics. Internal to llmd_jinja.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "jinja/value.h"

namespace llmd::jinja {

// range, namespace and dict; nullopt for other names.
std::optional<Value> global(const std::string& name);

// Jinja2's environment.getattr: attribute (methods) first, then item.
Result<Value> get_attribute(const Value& obj, const std::string& name);
// Jinja2's environment.getitem: item first, then attribute for string keys.
Result<Value> get_item(const Value& obj, const Value& key);
Result<Value> slice(const Value& obj, std::optional<int64_t> start, std::optional<int64_t> stop,
                    std::optional<int64_t> step);
// The items a for loop visits: list items, dict keys, string characters; undefined is empty.
Result<std::vector<Value>> iterate(const Value& v);

Result<Value> binary_op(const std::string& op, const Value& a, const Value& b);
// ==, !=, <, <=, >, >=, in, notin.
Result<bool> compare(const std::string& op, const Value& a, const Value& b);

Result<Value> apply_filter(const std::string& name, const Value& input, CallArgs& args);
Result<bool> apply_test(const std::string& name, const Value& input, CallArgs& args);

}  // namespace llmd::jinja
