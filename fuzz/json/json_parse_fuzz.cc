// Fuzz target for json::parse and the typed readers: any input must parse or fail cleanly under
// both default and tight limits; a parsed value must survive a serialize/parse round trip; and
// walking it with the readers, as a request parser would, must never crash.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "json/json.h"

namespace {

using llmd::json::ArrayReader;
using llmd::json::ObjectReader;

void touch(std::string_view view) {
  volatile char sink = 0;
  for (char c : view) sink = static_cast<char>(sink ^ c);
}

// Boost.JSON 1.81 parses some long decimals a few ULPs off (precise number parsing came in 1.83),
// so a serialize/parse round trip is compared with a small relative tolerance for doubles.
bool same(const boost::json::value& a, const boost::json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case boost::json::kind::double_: {
      const double x = a.get_double(), y = b.get_double();
      return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
    }
    case boost::json::kind::array: {
      const auto &x = a.get_array(), &y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same(x[i], y[i])) return false;
      }
      return true;
    }
    case boost::json::kind::object: {
      const auto &x = a.get_object(), &y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& kv : x) {
        const boost::json::value* other = y.if_contains(kv.key());
        if (other == nullptr || !same(kv.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

void walk_array(ArrayReader& a, int depth);

// Reads every member under each typed accessor, so each type mismatch path runs.
void walk_object(ObjectReader& o, int depth) {
  if (!o || depth > 8) return;
  for (const auto& kv : *o.object()) {
    const std::string_view key(kv.key().data(), kv.key().size());
    touch(key);
    if (auto s = o.optional_string(key)) touch(*s);
    (void)o.optional_int(key);
    (void)o.optional_double(key);
    (void)o.optional_bool(key);
    (void)o.presence(key);
    if (kv.value().is_object()) {
      ObjectReader child = o.optional_object(key);
      walk_object(child, depth + 1);
    } else if (kv.value().is_array()) {
      ArrayReader child = o.optional_array(key);
      walk_array(child, depth + 1);
    }
  }
  touch(o.required_string("model"));
  (void)o.required_int("max_tokens");
  touch(o.path());
}

void walk_array(ArrayReader& a, int depth) {
  if (!a || depth > 8) return;
  for (std::size_t i = 0; i < a.size() && i < 64; ++i) {
    if (auto s = a.string(i)) touch(*s);
    (void)a.integer(i);
    (void)a.number(i);
    (void)a.boolean(i);
    if (a.at(i).is_object()) {
      ObjectReader child = a.object(i);
      walk_object(child, depth + 1);
    } else if (a.at(i).is_array()) {
      ArrayReader child = a.array(i);
      walk_array(child, depth + 1);
    }
  }
  (void)a.boolean(a.size());  // out of range
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static llmd::json::Parser parser;  // reused, as a worker thread does

  boost::json::monotonic_resource arena;
  auto v = parser.parse(input, boost::json::storage_ptr(&arena));
  auto once = llmd::json::parse(input);
  if (v.has_value() != once.has_value()) std::abort();

  llmd::json::ParseLimits tight;
  tight.max_bytes = 256;
  tight.max_depth = 4;
  tight.max_string_bytes = 8;
  auto small = llmd::json::parse(input, tight);
  if (small.has_value() && !v.has_value()) std::abort();  // tighter limits never accept more
  if (small.has_error() && small.error().message.empty()) std::abort();

  if (!v) {
    if (v.error().message.empty()) std::abort();
    return 0;
  }
  if (*v != *once) std::abort();
  const std::string text = boost::json::serialize(*v);
  llmd::json::ParseLimits roomy;
  roomy.max_bytes = text.size() + 1;
  auto again = llmd::json::parse(text, roomy);
  if (!again || !same(*again, *v)) std::abort();

  llmd::json::Extractor ex;
  ObjectReader root = ex.root(*v);
  walk_object(root, 0);
  if (!ex.ok()) touch(ex.error().message);
  return 0;
}
