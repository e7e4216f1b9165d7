#include "config/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

namespace llmd::config {

namespace {

constexpr std::string_view kTagPlain = "?";
constexpr std::string_view kTagQuoted = "!";
constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr int kMaxJsonDepth = 256;

bool all_of(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool is_dec(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view strip_sign(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return s;
}

// YAML 1.2 core schema, int: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
bool is_int_text(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o') return all_of(s.substr(2), is_oct);
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x') return all_of(s.substr(2), is_hex);
  return all_of(strip_sign(s), is_dec);
}

// YAML 1.2 core schema, float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and the
// .inf/.nan spellings.
bool is_float_text(std::string_view s) {
  std::string_view u = strip_sign(s);
  if (u == ".inf" || u == ".Inf" || u == ".INF") return true;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  std::size_t i = 0;
  std::size_t int_digits = 0;
  while (i < u.size() && is_dec(u[i])) ++i, ++int_digits;
  std::size_t frac_digits = 0;
  if (i < u.size() && u[i] == '.') {
    ++i;
    while (i < u.size() && is_dec(u[i])) ++i, ++frac_digits;
    if (int_digits == 0 && frac_digits == 0) return false;
  } else if (int_digits == 0) {
    return false;
  }
  if (i < u.size() && (u[i] == 'e' || u[i] == 'E')) {
    ++i;
    if (i < u.size() && (u[i] == '-' || u[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < u.size() && is_dec(u[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == u.size();
}

Kind resolve_plain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Kind::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE")
    return Kind::kBool;
  if (is_int_text(s)) return Kind::kInt;
  if (is_float_text(s)) return Kind::kFloat;
  return Kind::kString;
}

bool tag_supported(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  if (tag.empty() || tag == kTagPlain || tag == kTagQuoted) return true;
  static constexpr std::string_view kCore[] = {
      "tag:yaml.org,2002:str",  "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
      "tag:yaml.org,2002:null", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"};
  return std::find(std::begin(kCore), std::end(kCore), tag) != std::end(kCore);
}

// Parses the magnitude of an integer scalar already known to match is_int_text.
bool parse_magnitude(std::string_view s, bool& negative, uint64_t& mag) {
  negative = false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    s.remove_prefix(2);
  } else {
    negative = !s.empty() && s[0] == '-';
    s = strip_sign(s);
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), mag, base);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool safe_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (c == '.' || c == '[' || c == ']' || c == '"' || c == '\\' || static_cast<unsigned char>(c) <= ' ')
      return false;
  }
  return true;
}

std::string child_path(const std::string& parent, std::string_view key) {
  if (safe_key(key)) return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
  std::string quoted = parent + "[\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted += "\"]";
  return quoted;
}

std::string index_path(const std::string& parent, std::size_t i) { return fmt::format("{}[{}]", parent, i); }

std::string got(const Node& n) {
  const Kind k = n.kind();
  if (k == Kind::kString) {
    std::string_view s = n.yaml().Scalar();
    if (s.size() > 40) return fmt::format("string \"{}...\"", s.substr(0, 40));
    return fmt::format("string \"{}\"", s);
  }
  return std::string(kind_name(k));
}

std::string type_problem(std::string_view expected, const Node& n) {
  return fmt::format("expected {}, got {}", expected, got(n));
}

// Go's time.ParseDuration grammar, non-negative: "300ms", "1.5h", "2h45m", "0".
enum class DurationStatus { kOk, kInvalid, kUnknownUnit, kMissingUnit, kOverflow, kNegative };

DurationStatus parse_duration_ns(std::string_view s, int64_t& out) {
  constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    out = 0;
    return DurationStatus::kOk;
  }
  if (s.empty()) return DurationStatus::kInvalid;
  uint64_t total = 0;
  while (!s.empty()) {
    uint64_t whole = 0;
    std::size_t i = 0;
    bool digits = false;
    for (; i < s.size() && is_dec(s[i]); ++i) {
      digits = true;
      if (whole > (kMax - 9) / 10) return DurationStatus::kOverflow;
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    uint64_t frac = 0;
    double scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      for (; i < s.size() && is_dec(s[i]); ++i) {
        digits = true;
        if (frac <= (kMax - 9) / 10) {  // further digits are below a nanosecond at any unit
          frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!digits) return DurationStatus::kInvalid;
    const std::size_t unit_start = i;
    while (i < s.size() && s[i] != '.' && !is_dec(s[i])) ++i;
    const std::string_view unit = s.substr(unit_start, i - unit_start);
    if (unit.empty()) return DurationStatus::kMissingUnit;
    uint64_t ns = 0;
    if (unit == "ns") {
      ns = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {  // U+00B5, U+03BC
      ns = 1'000;
    } else if (unit == "ms") {
      ns = 1'000'000;
    } else if (unit == "s") {
      ns = 1'000'000'000;
    } else if (unit == "m") {
      ns = 60'000'000'000;
    } else if (unit == "h") {
      ns = 3'600'000'000'000;
    } else {
      return DurationStatus::kUnknownUnit;
    }
    if (whole > kMax / ns) return DurationStatus::kOverflow;
    uint64_t v = whole * ns;
    if (frac > 0) {
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(ns) / scale));
      if (v > kMax) return DurationStatus::kOverflow;
    }
    if (v > kMax - total) return DurationStatus::kOverflow;
    total += v;
    s.remove_prefix(i);
  }
  if (negative && total != 0) return DurationStatus::kNegative;
  out = static_cast<int64_t>(total);
  return DurationStatus::kOk;
}

std::string duration_problem(DurationStatus status, std::string_view s) {
  switch (status) {
    case DurationStatus::kOk:
      break;
    case DurationStatus::kInvalid:
      return fmt::format("invalid duration \"{}\"", s);
    case DurationStatus::kMissingUnit:
      return fmt::format("missing unit in duration \"{}\" (units: ns, us, ms, s, m, h)", s);
    case DurationStatus::kUnknownUnit:
      return fmt::format("unknown unit in duration \"{}\" (units: ns, us, ms, s, m, h)", s);
    case DurationStatus::kOverflow:
      return fmt::format("duration \"{}\" out of range", s);
    case DurationStatus::kNegative:
      return fmt::format("duration \"{}\" must not be negative", s);
  }
  return {};
}

// yaml-cpp 0.7's LoadAll can loop forever on some malformed input (its parser keeps reporting
// empty documents without consuming anything), so documents are counted here, with a bound, by
// an event handler that notes whether a "document" held any node at all.
class DocumentCounter final : public YAML::EventHandler {
 public:
  std::size_t nodes = 0;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { ++nodes; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++nodes; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {
    ++nodes;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++nodes;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    ++nodes;
  }
  void OnMapEnd() override {}
};

// 0, 1 or 2 (meaning "more than one"). Throws YAML::Exception on a syntax error in either.
std::size_t count_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  std::size_t docs = 0;
  while (docs < 2) {
    DocumentCounter counter;
    if (!parser.HandleNextDocument(counter) || counter.nodes == 0) break;
    ++docs;
  }
  return docs;
}

const std::string& empty_string() {
  static const std::string empty;
  return empty;
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kInt:
      return "integer";
    case Kind::kFloat:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kSequence:
      return "sequence";
    case Kind::kMapping:
      return "mapping";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Node

Node::Node(const YAML::Node& node, std::string path, std::shared_ptr<const std::string> source,
           YAML::Mark fallback)
    : node_(node), path_(std::move(path)), source_(std::move(source)), mark_(fallback) {
  if (node_.IsDefined() && !node_.Mark().is_null()) mark_ = node_.Mark();
}

Kind Node::kind() const {
  switch (node_.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Kind::kNull;
    case YAML::NodeType::Sequence:
      return Kind::kSequence;
    case YAML::NodeType::Map:
      return Kind::kMapping;
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& tag = node_.Tag();
  if (tag == kTagQuoted || tag == kTagStr) return Kind::kString;
  return resolve_plain(node_.Scalar());
}

const std::string& Node::source() const { return source_ ? *source_ : empty_string(); }

std::string Node::location() const {
  if (mark_.is_null()) return source();
  return fmt::format("{}:{}:{}", source(), mark_.line + 1, mark_.column + 1);
}

Node Node::child(std::string_view key, const YAML::Node& value) const {
  return Node(value, child_path(path_, key), source_, mark_);
}

Node Node::element(std::size_t i, const YAML::Node& value) const {
  return Node(value, index_path(path_, i), source_, mark_);
}

Node Node::over(const YAML::Node& value) const { return Node(value, path_, source_, mark_); }

Result<boost::json::value> Node::to_json() const {
  Decoder d;
  boost::json::value out;
  d.to_json(*this, out);
  if (auto r = d.result(); !r) return r.error();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing

Result<Node> parse(std::string_view text, std::string_view source_name, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Error(ErrorCode::kConfig, fmt::format("{}: {} bytes exceeds the limit of {} bytes", source_name,
                                                 text.size(), max_bytes));
  }
  auto source = std::make_shared<const std::string>(source_name);
  try {
    const std::string owned(text);
    YAML::Node root = YAML::Load(owned);
    if (!root.IsDefined()) root = YAML::Node(YAML::NodeType::Null);  // empty text: no document
    if (const std::size_t docs = count_documents(owned); docs > 1) {
      return Error(ErrorCode::kConfig,
                   fmt::format("{}: expected one YAML document, found more", source_name));
    }
    return Node(root, std::string(), std::move(source));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Error(ErrorCode::kConfig, fmt::format("{}: {}", source_name, e.msg));
    return Error(ErrorCode::kConfig,
                 fmt::format("{}:{}:{}: {}", source_name, e.mark.line + 1, e.mark.column + 1, e.msg));
  } catch (const std::exception& e) {
    return Error(ErrorCode::kConfig, fmt::format("{}: {}", source_name, e.what()));
  }
}

Result<Node> load_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIo, fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string text;
  // Read at most one byte past the limit so an oversized file is reported, not slurped.
  text.resize(std::min<std::size_t>(max_bytes, std::size_t{64} << 10) + 1);
  std::size_t len = 0;
  while (in) {
    if (len == text.size()) {
      if (text.size() > max_bytes) break;
      text.resize(std::min(text.size() * 2, max_bytes + 1));
    }
    in.read(text.data() + len, static_cast<std::streamsize>(text.size() - len));
    len += static_cast<std::size_t>(in.gcount());
  }
  if (in.bad()) return Error(ErrorCode::kIo, fmt::format("{}: read failed", path));
  text.resize(len);
  return parse(text, path, max_bytes);
}

// ---------------------------------------------------------------------------------------------
// Decoder

void Decoder::error(const Node& at, std::string_view problem) { error(at.path(), at, problem); }

void Decoder::error(const std::string& path, const Node& location_of, std::string_view problem) {
  ++count_;
  if (errors_.size() >= kMaxErrors) return;
  const std::string loc = location_of.location();
  std::string_view shown = path.empty() ? std::string_view("(root)") : std::string_view(path);
  if (loc.empty()) {
    errors_.push_back(fmt::format("{}: {}", shown, problem));
  } else {
    errors_.push_back(fmt::format("{}: {} ({})", shown, problem, loc));
  }
}

Result<void> Decoder::result() const {
  if (count_ == 0) return {};
  std::string message;
  for (const auto& e : errors_) {
    if (!message.empty()) message += "; ";
    message += e;
  }
  if (count_ > errors_.size()) message += fmt::format("; and {} more errors", count_ - errors_.size());
  return Error(ErrorCode::kConfig, std::move(message));
}

bool Decoder::spend(const Node& n, std::size_t nodes) {
  if (budget_reported_) return false;
  nodes_ += nodes;
  if (nodes_ <= kMaxNodes) return true;
  budget_reported_ = true;
  error(n, fmt::format("document too large: more than {} nodes to decode (YAML aliases count each use)",
                       kMaxNodes));
  return false;
}

bool Decoder::visit(const Node& n) {
  if (!spend(n, 1)) return false;
  if (n.present() && !tag_supported(n.yaml())) {
    error(n, fmt::format("unsupported YAML tag \"{}\"", n.yaml().Tag()));
    return false;
  }
  return true;
}

bool Decoder::to_bool(const Node& n, bool& out) {
  if (n.kind() != Kind::kBool) {
    error(n, type_problem("boolean", n));
    return false;
  }
  const char c = n.yaml().Scalar()[0];
  out = c == 't' || c == 'T';
  return true;
}

bool Decoder::to_int(const Node& n, int64_t min, int64_t max, int64_t& out) {
  if (n.kind() != Kind::kInt) {
    error(n, type_problem("integer", n));
    return false;
  }
  const std::string& s = n.yaml().Scalar();
  bool negative = false;
  uint64_t mag = 0;
  const bool parsed = parse_magnitude(s, negative, mag);
  const uint64_t limit =
      negative ? static_cast<uint64_t>(-(min + 1)) + 1 : static_cast<uint64_t>(std::max<int64_t>(max, 0));
  if (!parsed || mag > limit) {
    error(n, fmt::format("{} is out of range [{}, {}]", s, min, max));
    return false;
  }
  const int64_t v = negative ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
  if (v < min || v > max) {
    error(n, fmt::format("{} is out of range [{}, {}]", s, min, max));
    return false;
  }
  out = v;
  return true;
}

bool Decoder::to_uint(const Node& n, uint64_t max, uint64_t& out) {
  if (n.kind() != Kind::kInt) {
    error(n, type_problem("integer", n));
    return false;
  }
  const std::string& s = n.yaml().Scalar();
  bool negative = false;
  uint64_t mag = 0;
  if (!parse_magnitude(s, negative, mag) || (negative && mag != 0) || mag > max) {
    error(n, fmt::format("{} is out of range [0, {}]", s, max));
    return false;
  }
  out = mag;
  return true;
}

bool Decoder::to_double(const Node& n, double& out) {
  const Kind k = n.kind();
  const std::string& s = n.yaml().Scalar();
  if (k == Kind::kInt) {
    bool negative = false;
    uint64_t mag = 0;
    if (parse_magnitude(s, negative, mag)) {
      out = negative ? -static_cast<double>(mag) : static_cast<double>(mag);
      return true;
    }
    // Longer than 64 bits: let from_chars round the decimal text below.
  } else if (k != Kind::kFloat) {
    error(n, type_problem("number", n));
    return false;
  }
  std::string_view u = s;
  if (!u.empty() && u[0] == '+') u.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(u.data(), u.data() + u.size(), v);
  if (ec != std::errc() || ptr != u.data() + u.size() || !std::isfinite(v)) {
    error(n, fmt::format("expected a finite number, got {}", s));
    return false;
  }
  out = v;
  return true;
}

bool Decoder::to_string(const Node& n, std::string& out) {
  if (n.kind() != Kind::kString) {
    error(n, type_problem("string", n));
    return false;
  }
  out = n.yaml().Scalar();
  return true;
}

bool Decoder::to_duration_ns(const Node& n, int64_t& out) {
  const Kind k = n.kind();
  if (k != Kind::kString && k != Kind::kInt) {
    error(n, type_problem("duration string such as \"50ms\"", n));
    return false;
  }
  const std::string& s = n.yaml().Scalar();
  const DurationStatus status = parse_duration_ns(s, out);
  if (status == DurationStatus::kOk) return true;
  error(n, duration_problem(status, s));
  return false;
}

Result<Nanos> parse_duration(std::string_view text) {
  int64_t ns = 0;
  const DurationStatus status = parse_duration_ns(text, ns);
  if (status != DurationStatus::kOk) return make_error(ErrorCode::kConfig, duration_problem(status, text));
  return Nanos(ns);
}

bool Decoder::to_json(const Node& n, boost::json::value& out) { return to_json_at(n, out, 0); }

bool Decoder::to_json_at(const Node& n, boost::json::value& out, int depth) {
  if (!visit(n)) return false;
  if (depth > kMaxJsonDepth) {
    error(n, fmt::format("nested deeper than {} levels", kMaxJsonDepth));
    return false;
  }
  const YAML::Node& y = n.yaml();
  switch (n.kind()) {
    case Kind::kNull:
      out = nullptr;
      return true;
    case Kind::kBool: {
      bool b = false;
      if (!to_bool(n, b)) return false;
      out = b;
      return true;
    }
    case Kind::kInt: {
      bool negative = false;
      uint64_t mag = 0;
      if (parse_magnitude(y.Scalar(), negative, mag)) {
        if (!negative && mag > static_cast<uint64_t>(INT64_MAX)) {
          out = mag;
          return true;
        }
        if (!negative || mag <= static_cast<uint64_t>(INT64_MAX) + 1) {
          out = negative ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
          return true;
        }
      }
      error(n, fmt::format("{} is out of range for a 64-bit integer", y.Scalar()));
      return false;
    }
    case Kind::kFloat: {
      double d = 0;
      if (!to_double(n, d)) return false;
      out = d;
      return true;
    }
    case Kind::kString:
      out = boost::json::string(y.Scalar());
      return true;
    case Kind::kSequence: {
      if (!spend(n, y.size())) return false;
      boost::json::array arr;
      arr.reserve(y.size());
      std::size_t i = 0;
      bool ok = true;
      for (auto it = y.begin(); it != y.end(); ++it, ++i) {
        ok = to_json_at(n.element(i, *it), arr.emplace_back(nullptr), depth + 1) && ok;
        if (budget_reported_) return false;
      }
      out = std::move(arr);
      return ok;
    }
    case Kind::kMapping: {
      MapReader m(*this, n);
      boost::json::object obj;
      obj.reserve(y.size());
      bool ok = m.present();
      for (std::string_view key : m.keys()) {
        if (obj.contains(key)) continue;  // duplicate, reported by MapReader
        Node child = m.raw(key);
        ok = to_json_at(child, obj[key], depth + 1) && ok;
        if (budget_reported_) return false;
      }
      out = std::move(obj);
      return ok;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// MapReader

MapReader::MapReader(Decoder& d, const Node& node) : d_(&d), node_(node) {
  if (node.is_null()) return;
  if (node.kind() != Kind::kMapping) {
    d.error(node, type_problem("mapping", node));
    finished_ = true;
    return;
  }
  const YAML::Node& y = node.yaml();
  if (!d.spend(node, y.size())) {
    finished_ = true;
    return;
  }
  mapping_ = true;
  entries_.reserve(y.size());
  for (auto it = y.begin(); it != y.end(); ++it) {
    if (!it->first.IsScalar()) {
      d.error(node.path(), node.child("?", it->first), "mapping keys must be scalars");
      continue;
    }
    Entry e;
    e.key_node = it->first;
    e.key = e.key_node.Scalar();
    e.value = it->second;
    entries_.push_back(std::move(e));
  }
  // Duplicate keys: report each repeat and mark it used so it is not also an unknown field.
  std::vector<std::size_t> order(entries_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [this](std::size_t a, std::size_t b) { return entries_[a].key < entries_[b].key; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    Entry& e = entries_[order[i]];
    if (e.key != entries_[order[i - 1]].key) continue;
    d.error(node_.child(e.key, e.key_node), "duplicate key");
    e.used = true;
  }
}

MapReader::MapReader(MapReader&& other) noexcept
    : d_(other.d_),
      node_(std::move(other.node_)),
      entries_(std::move(other.entries_)),
      mapping_(other.mapping_),
      finished_(other.finished_),
      ignore_unknown_(other.ignore_unknown_) {
  other.finished_ = true;
}

MapReader::~MapReader() { finish(); }

Node MapReader::take(std::string_view key) {
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.used = true;
      return node_.child(key, e.value);
    }
  }
  return node_.child(key, YAML::Node(YAML::NodeType::Undefined));
}

void MapReader::missing(std::string_view key, const Node& n) {
  if (n.present()) {
    d_->error(n, "required field is null");
  } else {
    d_->error(n.path(), node_, "missing required field");
  }
  (void)key;
}

MapReader MapReader::map(std::string_view key) { return MapReader(*d_, take(key)); }

SeqReader MapReader::seq(std::string_view key) { return SeqReader(*d_, take(key)); }

Node MapReader::raw(std::string_view key) { return take(key); }

bool MapReader::has(std::string_view key) const {
  return std::any_of(entries_.begin(), entries_.end(), [key](const Entry& e) { return e.key == key; });
}

std::vector<std::string_view> MapReader::keys() const {
  std::vector<std::string_view> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.key);
  return out;
}

void MapReader::error(std::string_view key, std::string_view problem) {
  for (const Entry& e : entries_) {
    if (e.key == key) {
      d_->error(node_.child(key, e.value), problem);
      return;
    }
  }
  d_->error(child_path(node_.path(), key), node_, problem);
}

void MapReader::error(std::string_view problem) { d_->error(node_, problem); }

void MapReader::finish() {
  if (finished_) return;
  finished_ = true;
  if (ignore_unknown_) return;
  for (const Entry& e : entries_) {
    if (!e.used) d_->error(node_.child(e.key, e.key_node), "unknown field");
  }
}

// ---------------------------------------------------------------------------------------------
// SeqReader

SeqReader::SeqReader(Decoder& d, const Node& node) : d_(&d), node_(node) {
  if (node.is_null()) return;
  if (node.kind() != Kind::kSequence) {
    d.error(node, type_problem("sequence", node));
    return;
  }
  const YAML::Node& y = node.yaml();
  if (!d.spend(node, y.size())) return;
  sequence_ = true;
  elements_.reserve(y.size());
  for (auto it = y.begin(); it != y.end(); ++it) elements_.push_back(*it);
}

Node SeqReader::at(std::size_t i) const {
  return node_.element(i, i < elements_.size() ? elements_[i] : YAML::Node(YAML::NodeType::Undefined));
}

// ---------------------------------------------------------------------------------------------

namespace detail {

std::string unit_name(std::intmax_t num, std::intmax_t den) {
  if (num == 1 && den == 1'000'000'000) return "nanoseconds";
  if (num == 1 && den == 1'000'000) return "microseconds";
  if (num == 1 && den == 1'000) return "milliseconds";
  if (num == 1 && den == 1) return "seconds";
  if (num == 60 && den == 1) return "minutes";
  if (num == 3600 && den == 1) return "hours";
  return fmt::format("{}/{} s", num, den);
}

void enum_error(Decoder& d, const Node& n, std::string_view got_value,
                std::span<const std::string_view> names) {
  d.error(n, fmt::format("unknown value \"{}\"; expected one of: {}", got_value, fmt::join(names, ", ")));
}

}  // namespace detail
}  // namespace llmd::config
