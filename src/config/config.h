#pragma once
// Strict configuration decoding: YAML or JSON text (yaml-cpp reads both, JSON being YAML's flow
// style) into typed structs. Unknown keys and wrong types are errors that name the exact path,
// e.g. `plugins[2].parameters.blockSize: expected integer, got string (epp.yaml:14:18)`.
// Start-up code only: yaml-cpp allocates freely and may throw internally; nothing here throws.
//
// THE PATTERN (defaults live in one place: the struct's default member initialisers)
//
//   struct ProfilePlugin {
//     std::string plugin_ref;
//     double weight = 1.0;                          // the one place this default lives
//   };
//   void decode(config::MapReader& m, ProfilePlugin& p) {   // found by ADL
//     m.require("pluginRef", p.plugin_ref);
//     m.read("weight", p.weight);                   // absent or null: keeps 1.0
//   }
//   struct PluginSpec {
//     std::string name, type;
//     config::Node parameters;                      // decoded later by the plugin's factory
//   };
//   void decode(config::MapReader& m, PluginSpec& p) {
//     m.require("type", p.type);
//     if (!m.read("name", p.name)) p.name = p.type;   // a default that depends on another field
//     m.read("parameters", p.parameters);           // kept raw: its keys are not checked here
//   }
//   struct EppConfig {
//     std::vector<PluginSpec> plugins;
//     std::chrono::milliseconds sync_interval{1000};
//     Mode mode = Mode::kFcfs;
//   };
//   constexpr config::EnumName<Mode> kModeNames[] = {{"fcfs", Mode::kFcfs}, {"priority", Mode::kPriority}};
//   void decode(config::MapReader& m, EppConfig& c) {
//     m.read("plugins", c.plugins);                 // vector of structs: decode() per element
//     m.read("crossReplicaSyncInterval", c.sync_interval);   // "1s", "250ms", "1m30s"
//     m.read("mode", c.mode, kModeNames);
//     if (c.plugins.empty()) m.error("plugins", "must not be empty");   // cross-field checks
//   }
//
//   Result<EppConfig> cfg = config::load<EppConfig>("/etc/epp.yaml");
//   // a factory, later:  Result<Params> p = config::decode<Params>(spec.parameters);
//
// Nothing but the struct definition sets defaults: decode() only overwrites what the document
// says, so `EppConfig{}` *is* the default configuration and documents it.
//
// RULES
// - Every key of a mapping must be consumed (read/require/map/seq/raw) by the time its MapReader
//   finishes, else `<path>.<key>: unknown field`. finish() runs at the latest in the destructor.
//   ignore_unknown() opts one mapping out (pass-through maps).
// - A key that is absent or null keeps the caller's value; require() makes absent or null an error.
//   read()/require() return whether the key was present and non-null.
// - Scalars follow the YAML 1.2 core schema and are not coerced: quoted scalars are strings only;
//   plain `42` is an integer, `4.2` a number, `true`/`false` booleans, `null`/`~`/empty null.
//   A number field accepts integers; an integer field does not accept `4.0`. An int field is
//   range-checked against its C++ type. Durations are Go-style strings ("50ms", "2s", "1m30s";
//   units ns, us, ms, s, m, h; "0" alone needs no unit), non-negative, and must be a whole number
//   of the target type's ticks. Enums are strings from a name table.
// - Duplicate keys are errors. Mapping keys are scalars; paths quote odd ones: `labels["a.b/c"]`.
// - Errors: ErrorCode::kConfig; each is `<path>: <problem> (<source>:<line>:<col>)`, path `(root)`
//   for the document itself. Every error is collected (up to Decoder::kMaxErrors) and they are
//   joined with "; " in the order decoding meets them (unknown fields when their mapping
//   finishes), so one run reports every mistake.
// - Syntax errors: `<source>:<line>:<col>: <yaml-cpp's reason>` (1-based).

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/json/value.hpp>
#include <yaml-cpp/yaml.h>

#include "common/clock.h"
#include "common/error.h"

namespace llmd::config {

// How a node reads under the YAML 1.2 core schema. JSON inputs map onto the same kinds.
enum class Kind { kNull, kBool, kInt, kFloat, kString, kSequence, kMapping };
// "null", "boolean", "integer", "number", "string", "sequence", "mapping".
std::string_view kind_name(Kind kind);

// A position in a parsed document: the YAML node, its path from the root and the source name.
// Copies share the document, so a Node can be stored (e.g. plugin parameters) and decoded later
// with its paths and locations intact.
class Node {
 public:
  Node() = default;  // absent
  // `fallback` locates nodes without a position of their own (absent keys: the parent's).
  Node(const YAML::Node& node, std::string path, std::shared_ptr<const std::string> source,
       YAML::Mark fallback = YAML::Mark::null_mark());

  bool present() const { return node_.IsDefined(); }
  bool is_null() const { return !present() || node_.IsNull(); }
  Kind kind() const;  // kNull when absent
  const std::string& path() const { return path_; }
  // `source:line:col` (1-based), or just the source when the node has no position.
  std::string location() const;
  const std::string& source() const;
  const YAML::Node& yaml() const { return node_; }

  // A node below this one, with the path extended by `.key` (or `["odd.key"]`) or `[i]`.
  Node child(std::string_view key, const YAML::Node& value) const;
  Node element(std::size_t i, const YAML::Node& value) const;
  // Another YAML node at this node's path and source (e.g. a mapping built from some of this one's
  // entries); positions come from `value`'s nodes, or this node's where they have none.
  Node over(const YAML::Node& value) const;

  // The subtree as JSON, typed by the rules above (int beyond int64 → uint64). Errors (non-finite
  // numbers, duplicate keys, depth over 256) are kConfig and name the path.
  Result<boost::json::value> to_json() const;

 private:
  YAML::Node node_{YAML::NodeType::Undefined};
  std::string path_;
  std::shared_ptr<const std::string> source_;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

inline constexpr std::size_t kDefaultMaxBytes = std::size_t{4} << 20;

// Parses one YAML or JSON document; an empty document is a null root (decodes to defaults).
// More than one document, or text over max_bytes, is an error. Errors are kConfig.
Result<Node> parse(std::string_view text, std::string_view source_name = "<config>",
                   std::size_t max_bytes = kDefaultMaxBytes);
// Reads and parses a file; the source name in messages is the path. Unreadable files are kIo.
Result<Node> load_file(const std::string& path, std::size_t max_bytes = kDefaultMaxBytes);

// A Go-style duration ("50ms", "1m30s", "1.5h", "0"; units ns, us, ms, s, m, h), not negative, as
// files spell them: for flags, so that flags and files agree. kConfig naming the problem.
Result<Nanos> parse_duration(std::string_view text);

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

class MapReader;
class SeqReader;

// Collects the errors of one decoding run. Readers borrow it; it must outlive them.
class Decoder {
 public:
  static constexpr std::size_t kMaxErrors = 20;
  // Visiting more nodes than this (e.g. through YAML alias fan-out) stops the run. The largest
  // real configs have a few thousand; a million let a 167-byte alias chain cost 0.5 s to reject
  // (found by config_decode_fuzz).
  static constexpr std::size_t kMaxNodes = 100'000;

  void error(const Node& at, std::string_view problem);
  void error(const std::string& path, const Node& location_of, std::string_view problem);
  bool ok() const { return count_ == 0; }
  std::size_t error_count() const { return count_; }
  // ok, or kConfig with every recorded error joined by "; ".
  Result<void> result() const;

  // Typed scalar conversions; each records an error naming the node's path and returns false.
  bool to_bool(const Node& n, bool& out);
  bool to_int(const Node& n, int64_t min, int64_t max, int64_t& out);
  bool to_uint(const Node& n, uint64_t max, uint64_t& out);
  bool to_double(const Node& n, double& out);
  bool to_string(const Node& n, std::string& out);
  bool to_duration_ns(const Node& n, int64_t& out);
  bool to_json(const Node& n, boost::json::value& out);
  // Per-node bookkeeping: the node budget and unsupported tags. False: do not decode this node.
  bool visit(const Node& n);
  // Charges `nodes` against kMaxNodes; false (reported once) when the budget is spent.
  bool spend(const Node& n, std::size_t nodes);

 private:
  bool to_json_at(const Node& n, boost::json::value& out, int depth);

  std::vector<std::string> errors_;
  std::size_t count_ = 0;
  std::size_t nodes_ = 0;
  bool budget_reported_ = false;
};

namespace detail {
template <class T>
struct IsVector : std::false_type {};
template <class T, class A>
struct IsVector<std::vector<T, A>> : std::true_type {};
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsStringMap : std::false_type {};
template <class T, class C, class A>
struct IsStringMap<std::map<std::string, T, C, A>> : std::true_type {};
template <class T>
struct IsDuration : std::false_type {};
template <class R, class P>
struct IsDuration<std::chrono::duration<R, P>> : std::true_type {};

template <class T>
concept StructDecodable = requires(MapReader& m, T& t) {
  decode(m, t);
};

template <class T>
void decode_value(Decoder& d, const Node& n, T& out);

std::string unit_name(std::intmax_t num, std::intmax_t den);
void enum_error(Decoder& d, const Node& n, std::string_view got, std::span<const std::string_view> names);
}  // namespace detail

// A view over one mapping node that enforces strict decoding (see RULES above).
class MapReader {
 public:
  // `node` may be a mapping, null or absent (an empty reader); anything else records an error.
  MapReader(Decoder& d, const Node& node);
  ~MapReader();
  MapReader(MapReader&& other) noexcept;
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;
  MapReader& operator=(MapReader&&) = delete;

  // Optional key: decodes into `out` when present and non-null; otherwise `out` keeps its value.
  template <class T>
  bool read(std::string_view key, T& out) {
    Node n = take(key);
    if (n.is_null()) return false;
    detail::decode_value(*d_, n, out);
    return true;
  }
  // Required key: absent or null is an error.
  template <class T>
  bool require(std::string_view key, T& out) {
    Node n = take(key);
    if (n.is_null()) {
      missing(key, n);
      return false;
    }
    detail::decode_value(*d_, n, out);
    return true;
  }
  // Enums: the value must be one of `names` (`unknown value "x"; expected one of: a, b`).
  template <class E>
  bool read(std::string_view key, E& out, std::type_identity_t<std::span<const EnumName<E>>> names) {
    Node n = take(key);
    if (n.is_null()) return false;
    decode_enum(n, out, names);
    return true;
  }
  template <class E>
  bool require(std::string_view key, E& out, std::type_identity_t<std::span<const EnumName<E>>> names) {
    Node n = take(key);
    if (n.is_null()) {
      missing(key, n);
      return false;
    }
    decode_enum(n, out, names);
    return true;
  }

  // Nested readers; an absent or null key gives an empty reader.
  MapReader map(std::string_view key);
  SeqReader seq(std::string_view key);
  // Marks the key consumed and returns it undecoded (absent: !present()), for sub-trees decoded
  // later or elsewhere. Same as read(key, Node&) but also returns null nodes.
  Node raw(std::string_view key);
  // Whether the key is present (even if null); does not consume it.
  bool has(std::string_view key) const;
  // Every key of this mapping, in document order (for maps with free-form keys).
  std::vector<std::string_view> keys() const;
  // Accept keys nobody reads (a pass-through mapping).
  void ignore_unknown() { ignore_unknown_ = true; }

  // Records "<path>.<key>: <problem>" (or "<path>: <problem>"), for checks decode() makes.
  void error(std::string_view key, std::string_view problem);
  void error(std::string_view problem);

  // Reports every unread key as `<path>.<key>: unknown field`. Idempotent.
  void finish();

  const Node& node() const { return node_; }
  const std::string& path() const { return node_.path(); }
  bool present() const { return mapping_; }
  Decoder& decoder() { return *d_; }

 private:
  struct Entry {
    std::string_view key;  // into key_node's scalar, which `node_` keeps alive
    YAML::Node key_node;
    YAML::Node value;
    bool used = false;
  };
  Node take(std::string_view key);
  void missing(std::string_view key, const Node& n);
  template <class E>
  void decode_enum(const Node& n, E& out, std::span<const EnumName<E>> names);

  Decoder* d_;
  Node node_;
  std::vector<Entry> entries_;
  bool mapping_ = false;
  bool finished_ = false;
  bool ignore_unknown_ = false;
};

// A view over one sequence node; elements' paths are `<path>[i]`.
class SeqReader {
 public:
  // `node` may be a sequence, null or absent (empty); anything else records an error.
  SeqReader(Decoder& d, const Node& node);

  std::size_t size() const { return elements_.size(); }
  Node at(std::size_t i) const;
  template <class T>
  void read(std::size_t i, T& out) {
    detail::decode_value(*d_, at(i), out);
  }
  MapReader map(std::size_t i) { return MapReader(*d_, at(i)); }
  SeqReader seq(std::size_t i) { return SeqReader(*d_, at(i)); }

  const Node& node() const { return node_; }
  const std::string& path() const { return node_.path(); }
  bool present() const { return sequence_; }
  Decoder& decoder() { return *d_; }

 private:
  Decoder* d_;
  Node node_;
  std::vector<YAML::Node> elements_;
  bool sequence_ = false;
};

// Decodes a whole node into `out` (fields the node omits keep their values); for a struct T,
// unknown keys are errors.
template <class T>
Result<void> decode_into(const Node& node, T& out) {
  Decoder d;
  detail::decode_value(d, node, out);
  return d.result();
}

// Decodes into a default-constructed T: the node over T's defaults.
template <class T>
Result<T> decode(const Node& node) {
  T out{};
  if (auto r = decode_into(node, out); !r) return r.error();
  return out;
}

template <class T>
Result<T> load(const std::string& path) {
  auto node = load_file(path);
  if (!node) return node.error();
  return decode<T>(*node);
}

template <class T>
Result<T> load_text(std::string_view text, std::string_view source_name = "<config>") {
  auto node = parse(text, source_name);
  if (!node) return node.error();
  return decode<T>(*node);
}

// ---------------------------------------------------------------------------------------------
// Implementation of the templates.

template <class E>
void MapReader::decode_enum(const Node& n, E& out, std::span<const EnumName<E>> names) {
  std::string s;
  if (!d_->to_string(n, s)) return;
  for (const auto& e : names) {
    if (e.name == s) {
      out = e.value;
      return;
    }
  }
  std::vector<std::string_view> list;
  list.reserve(names.size());
  for (const auto& e : names) list.push_back(e.name);
  detail::enum_error(*d_, n, s, list);
}

namespace detail {

template <class T>
inline constexpr bool kAlwaysFalse = false;

template <class T>
void decode_value(Decoder& d, const Node& n, T& out) {
  if (!d.visit(n)) return;
  if constexpr (std::is_same_v<T, bool>) {
    d.to_bool(n, out);
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    int64_t v = 0;
    if (d.to_int(n, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), v)) out = static_cast<T>(v);
  } else if constexpr (std::is_integral_v<T>) {
    uint64_t v = 0;
    if (d.to_uint(n, std::numeric_limits<T>::max(), v)) out = static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, double>) {
    d.to_double(n, out);
  } else if constexpr (std::is_same_v<T, float>) {
    double v = 0;
    if (!d.to_double(n, v)) return;
    if (v > std::numeric_limits<float>::max() || v < -std::numeric_limits<float>::max()) {
      d.error(n, "number out of range for float");
      return;
    }
    out = static_cast<float>(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    d.to_string(n, out);
  } else if constexpr (IsDuration<T>::value) {
    int64_t ns = 0;
    if (!d.to_duration_ns(n, ns)) return;
    using Rep = typename T::rep;
    using Period = typename T::period;
    if constexpr (std::is_floating_point_v<Rep>) {
      out = std::chrono::duration_cast<T>(std::chrono::nanoseconds(ns));
    } else {
      // Ticks of the target in nanoseconds; periods finer than 1 ns are not supported.
      static_assert(std::ratio_greater_equal_v<Period, std::nano>, "durations finer than nanoseconds");
      using Ticks = std::ratio_divide<Period, std::nano>;
      static_assert(Ticks::den == 1, "duration period must be a whole number of nanoseconds");
      constexpr int64_t kTick = static_cast<int64_t>(Ticks::num);
      if (ns % kTick != 0) {
        d.error(n, "duration is not a whole number of " + unit_name(Period::num, Period::den));
        return;
      }
      const int64_t ticks = ns / kTick;
      if (static_cast<uint64_t>(ticks) > static_cast<uint64_t>(std::numeric_limits<Rep>::max())) {
        d.error(n, "duration out of range");
        return;
      }
      out = T(static_cast<Rep>(ticks));
    }
  } else if constexpr (std::is_same_v<T, Node>) {
    out = n;
  } else if constexpr (std::is_same_v<T, boost::json::value>) {
    d.to_json(n, out);
  } else if constexpr (IsOptional<T>::value) {
    typename T::value_type v = out ? *out : typename T::value_type{};
    const std::size_t before = d.error_count();
    decode_value(d, n, v);
    if (d.error_count() == before) out = std::move(v);
  } else if constexpr (IsVector<T>::value) {
    SeqReader s(d, n);
    if (!s.present()) return;
    T result;
    result.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      result.emplace_back();
      decode_value(d, s.at(i), result.back());
    }
    out = std::move(result);  // a present sequence replaces the default, never appends to it
  } else if constexpr (IsStringMap<T>::value) {
    MapReader m(d, n);
    if (!m.present()) return;
    T result;
    for (std::string_view key : m.keys()) {
      auto [it, inserted] = result.try_emplace(std::string(key));
      if (inserted) m.read(key, it->second);
    }
    out = std::move(result);
  } else if constexpr (std::is_enum_v<T>) {
    static_assert(kAlwaysFalse<T>, "enums need a name table: read(key, out, names)");
  } else if constexpr (StructDecodable<T>) {
    MapReader m(d, n);
    if (!m.present() && !n.is_null()) return;  // wrong kind, already reported
    decode(m, out);
    m.finish();
  } else {
    static_assert(kAlwaysFalse<T>, "no decoder: declare `void decode(config::MapReader&, T&)` beside T");
  }
}

}  // namespace detail
}  // namespace llmd::config
