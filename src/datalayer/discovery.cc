#include "datalayer/discovery.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "config/config.h"
#include "log/log.h"

namespace llmd::datalayer {

namespace asio = boost::asio;

std::string_view to_string(EngineType e) { return e == EngineType::kSglang ? "sglang" : "vllm"; }

Result<EngineType> parse_engine_type(std::string_view name) {
  if (name == "vllm") return EngineType::kVllm;
  if (name == "sglang") return EngineType::kSglang;
  return make_error(ErrorCode::kConfig,
                    fmt::format("unknown engine type \"{}\"; expected vllm or sglang", name));
}

bool EndpointTarget::operator==(const EndpointTarget& o) const {
  return spec.id == o.spec.id && spec.address == o.spec.address && spec.port == o.spec.port &&
         spec.labels == o.spec.labels && engine == o.engine && scrape_interval == o.scrape_interval &&
         metrics_path == o.metrics_path;
}

namespace {

struct FileEndpoint {
  std::string name;
  std::string ns;
  std::string address;
  uint16_t port = 0;
  std::vector<uint16_t> ports;
  sched::Labels labels;
  std::string engine;
  std::optional<std::chrono::nanoseconds> interval;
  std::string metrics_path;
};

void decode(config::MapReader& m, FileEndpoint& e) {
  m.read("name", e.name);
  m.read("namespace", e.ns);
  if (m.require("address", e.address) && e.address.empty()) m.error("address", "must not be empty");
  // llm-d's file-discovery files write the port as a string ("8000"); llmd's as an integer.
  const config::Node port = m.raw("port");
  const bool has_port = !port.is_null();
  bool port_reported = false;
  if (has_port && port.kind() == config::Kind::kString) {
    std::string text;
    m.decoder().to_string(port, text);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || v > 65535) {
      m.decoder().error(port, fmt::format("expected a port number, got string \"{}\"", text));
      port_reported = true;
    } else {
      e.port = static_cast<uint16_t>(v);
    }
  } else if (has_port) {
    config::detail::decode_value(m.decoder(), port, e.port);
  }
  const bool has_ports = m.read("ports", e.ports);
  m.read("labels", e.labels);
  m.read("engine", e.engine);
  m.read("interval", e.interval);
  m.read("metricsPath", e.metrics_path);
  if (has_port == has_ports) m.error("port", "exactly one of port and ports is required");
  if (has_port && e.port == 0 && !port_reported) m.error("port", "must be between 1 and 65535");
  if (has_ports && e.ports.empty()) m.error("ports", "must not be empty");
  if (has_ports && e.ports.size() > 8) m.error("ports", "at most 8 ports (ranks) per entry");
  for (uint16_t p : e.ports) {
    if (p == 0) m.error("ports", "must be between 1 and 65535");
  }
  if (!e.engine.empty() && !parse_engine_type(e.engine)) m.error("engine", "expected vllm or sglang");
  if (!e.metrics_path.empty() && e.metrics_path.front() != '/') m.error("metricsPath", "must start with /");
}

struct DiscoveryDocument {
  std::string ns;
  std::optional<std::chrono::nanoseconds> interval;
  std::vector<FileEndpoint> endpoints;
};

void decode(config::MapReader& m, DiscoveryDocument& d) {
  m.read("namespace", d.ns);
  m.read("interval", d.interval);
  m.read("endpoints", d.endpoints);
}

// The engine of an endpoint: `engine` when given, else the engine-type label, else `fallback`. The label
// is set to the result so plugins see what the scraper uses.
Result<EngineType> settle_engine(std::string_view explicit_engine, sched::Labels& labels,
                                 EngineType fallback) {
  std::string_view from_label;
  if (auto it = labels.find(kEngineTypeLabel); it != labels.end()) {
    from_label = it->second;
  } else if (auto legacy = labels.find(kLegacyEngineTypeLabel); legacy != labels.end()) {
    from_label = legacy->second;
  }
  EngineType engine = fallback;
  if (!from_label.empty()) {
    auto e = parse_engine_type(from_label);
    if (!e)
      return make_error(ErrorCode::kConfig, fmt::format("label {}: {}", kEngineTypeLabel, e.error().message));
    engine = *e;
  }
  if (!explicit_engine.empty()) {
    auto e = parse_engine_type(explicit_engine);
    if (!e) return e.error();
    if (!from_label.empty() && *e != engine) {
      return make_error(ErrorCode::kConfig, fmt::format("engine \"{}\" contradicts label {}=\"{}\"",
                                                        explicit_engine, kEngineTypeLabel, from_label));
    }
    engine = *e;
  }
  labels[std::string(kEngineTypeLabel)] = std::string(to_string(engine));
  return engine;
}

// Default pod name: address and first port, so entries on one host (sim replicas) stay distinct.
std::string default_name(std::string_view address, uint16_t port) {
  std::string name;
  for (char c : address) name.push_back(c == ':' ? '-' : c);  // IPv6 colons would read as ports
  return fmt::format("{}-{}", name, port);
}

}  // namespace

Result<std::vector<EndpointTarget>> parse_discovery(std::string_view text, std::string_view source_name,
                                                    const DiscoveryDefaults& defaults) {
  auto doc = config::load_text<DiscoveryDocument>(text, source_name);
  if (!doc) return doc.error();
  const std::string file_ns = doc->ns.empty() ? defaults.ns : doc->ns;
  const Nanos file_interval = doc->interval ? Nanos(*doc->interval) : defaults.scrape_interval;
  std::vector<EndpointTarget> out;
  for (size_t i = 0; i < doc->endpoints.size(); ++i) {
    FileEndpoint& fe = doc->endpoints[i];
    const std::vector<uint16_t> ports = fe.ports.empty() ? std::vector<uint16_t>{fe.port} : fe.ports;
    auto engine = settle_engine(fe.engine, fe.labels, defaults.engine);
    if (!engine) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("endpoints[{}]: {} ({})", i, engine.error().message, source_name));
    }
    const std::string ns = fe.ns.empty() ? file_ns : fe.ns;
    const std::string name = fe.name.empty() ? default_name(fe.address, ports.front()) : fe.name;
    for (size_t rank = 0; rank < ports.size(); ++rank) {
      EndpointTarget t;
      t.spec.id = sched::make_endpoint_id(ns, name, static_cast<int>(rank));
      t.spec.address = fe.address;
      t.spec.port = ports[rank];
      t.spec.labels = fe.labels;
      t.engine = *engine;
      t.scrape_interval = fe.interval ? Nanos(*fe.interval) : file_interval;
      t.metrics_path = fe.metrics_path.empty() ? defaults.metrics_path : fe.metrics_path;
      out.push_back(std::move(t));
    }
  }
  if (auto r = check_targets(out); !r) {
    return make_error(ErrorCode::kConfig, fmt::format("{} ({})", r.error().message, source_name));
  }
  return out;
}

Result<std::vector<EndpointTarget>> load_discovery_file(const std::string& path,
                                                        const DiscoveryDefaults& defaults) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, fmt::format("cannot read discovery file {}", path));
  std::string text;
  char buf[16 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > config::kDefaultMaxBytes) {
      return make_error(ErrorCode::kConfig, fmt::format("discovery file {} is larger than {} bytes", path,
                                                        config::kDefaultMaxBytes));
    }
  }
  return parse_discovery(text, path, defaults);
}

Result<EndpointTarget> parse_endpoint_flag(std::string_view value, const DiscoveryDefaults& defaults) {
  auto fail = [&](std::string_view why) {
    return make_error(ErrorCode::kConfig, fmt::format("--endpoint {}: {}", value, why));
  };
  const size_t comma = value.find(',');
  const std::string_view host_port = value.substr(0, comma);
  std::string_view host;
  std::string_view port_text;
  if (host_port.starts_with('[')) {
    const size_t close = host_port.find(']');
    if (close == std::string_view::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':') {
      return fail("expected [ipv6]:port");
    }
    host = host_port.substr(1, close - 1);
    port_text = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return fail("expected host:port");
    host = host_port.substr(0, colon);
    port_text = host_port.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty()) return fail("empty host");
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return fail("port must be between 1 and 65535");
  }

  EndpointTarget t;
  t.spec.address = std::string(host);
  t.spec.port = static_cast<uint16_t>(port);
  t.scrape_interval = defaults.scrape_interval;
  t.metrics_path = defaults.metrics_path;
  std::string name = default_name(host, t.spec.port);
  std::string ns = defaults.ns;
  std::string engine;
  std::string_view rest = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
  while (!rest.empty()) {
    const size_t next = rest.find(',');
    const std::string_view item = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return fail(fmt::format("expected key=value, got \"{}\"", item));
    const std::string_view key = item.substr(0, eq);
    const std::string_view val = item.substr(eq + 1);
    if (key == "name") {
      name = std::string(val);
    } else if (key == "namespace") {
      ns = std::string(val);
    } else if (key == "engine") {
      engine = std::string(val);
    } else if (key == "metrics-path") {
      if (!val.starts_with('/')) return fail("metrics-path must start with /");
      t.metrics_path = std::string(val);
    } else if (key == "interval") {
      auto d = config::parse_duration(val);
      if (!d) return fail(fmt::format("interval \"{}\" is not a duration like 50ms", val));
      t.scrape_interval = *d;
    } else {
      t.spec.labels[std::string(key)] = std::string(val);
    }
  }
  if (name.empty() || ns.empty()) return fail("name and namespace must not be empty");
  auto e = settle_engine(engine, t.spec.labels, defaults.engine);
  if (!e) return fail(e.error().message);
  t.engine = *e;
  t.spec.id = sched::make_endpoint_id(ns, name, 0);
  return t;
}

Result<void> check_targets(const std::vector<EndpointTarget>& targets) {
  std::vector<std::string_view> ids;
  ids.reserve(targets.size());
  for (const auto& t : targets) ids.push_back(t.spec.id);
  std::sort(ids.begin(), ids.end());
  for (size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] == ids[i - 1])
      return make_error(ErrorCode::kConfig, fmt::format("duplicate endpoint id {}", ids[i]));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------

struct DiscoveryWatcher::Impl {
  explicit Impl(asio::any_io_executor ex) : executor(ex), timer(ex) {}
  asio::any_io_executor executor;
  asio::steady_timer timer;
  bool stopped = false;  // executor only
};

DiscoveryWatcher::DiscoveryWatcher(asio::any_io_executor executor, std::string path,
                                   DiscoveryDefaults defaults, std::chrono::milliseconds period,
                                   OnChange on_change)
    : impl_(std::make_unique<Impl>(std::move(executor))),
      path_(std::move(path)),
      defaults_(std::move(defaults)),
      period_(period),
      on_change_(std::move(on_change)) {}

DiscoveryWatcher::~DiscoveryWatcher() = default;

DiscoveryWatcher::FileId DiscoveryWatcher::identify(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return FileId{};
  return FileId{static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
                static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Result<std::vector<EndpointTarget>> DiscoveryWatcher::load_initial() {
  last_id_ = identify(path_);
  return load_discovery_file(path_, defaults_);
}

void DiscoveryWatcher::start() {
  asio::post(impl_->executor, [self = shared_from_this()] { self->arm(); });
}

void DiscoveryWatcher::stop() {
  asio::post(impl_->executor, [self = shared_from_this()] {
    self->impl_->stopped = true;
    self->impl_->timer.cancel();
  });
}

void DiscoveryWatcher::arm() {
  if (impl_->stopped) return;
  impl_->timer.expires_after(period_);
  impl_->timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->impl_->stopped) return;
    self->poll();
    self->arm();
  });
}

void DiscoveryWatcher::poll() {
  const FileId id = identify(path_);
  if (id == last_id_) return;
  last_id_ = id;
  auto targets = load_discovery_file(path_, defaults_);
  if (!targets) {
    reload_errors_.fetch_add(1, std::memory_order_relaxed);
    log::error("discovery file rejected; keeping the previous endpoints", log::kv("path", path_),
               log::kv("error", targets.error().message));
    return;
  }
  reloads_.fetch_add(1, std::memory_order_relaxed);
  log::info("discovery file reloaded", log::kv("path", path_), log::kv("endpoints", targets->size()));
  on_change_(std::move(*targets));
}

}  // namespace llmd::datalayer
