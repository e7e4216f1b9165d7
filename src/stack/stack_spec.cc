#include "stack/stack_spec.h"

#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "config/config.h"

namespace llmd::stack {

void decode(config::MapReader& m, SimSpec& s) {
  m.read("name", s.name);
  m.read("replicas", s.replicas);
  m.read("host", s.host);
  m.read("port", s.port);
  m.read("profile", s.profile);
  m.read("model", s.model);
  m.read("args", s.args);
  if (s.replicas == 0) m.error("replicas", "must be at least 1");
  if (s.port != 0 && s.port + s.replicas > 65536) m.error("port", "port + replicas exceeds 65535");
  if (s.name.empty()) m.error("name", "must not be empty");
}

void decode(config::MapReader& m, RouterSpec& r) {
  m.read("name", r.name);
  m.read("host", r.host);
  m.read("port", r.port);
  m.read("admin_port", r.admin_port);
  m.read("config_file", r.config_file);
  m.read("config", r.config);
  m.read("endpoints", r.endpoints);
  m.read("args", r.args);
  if (!r.config_file.empty() && !r.config.empty()) m.error("config", "give config or config_file, not both");
  if (r.name.empty()) m.error("name", "must not be empty");
}

void decode(config::MapReader& m, StackSpec& s) {
  m.read("log_level", s.log_level);
  m.read("ready_timeout", s.ready_timeout);
  m.read("stop_grace", s.stop_grace);
  m.read("sims", s.sims);
  m.read("routers", s.routers);
  if (s.sims.empty() && s.routers.empty()) m.error("the stack starts nothing: add sims or routers");
  // Cross-field checks name the element: `sims[1].name`, `routers[0].endpoints[2]`.
  const std::string base = m.path().empty() || m.path() == "(root)" ? "" : m.path() + ".";
  auto fail = [&](const std::string& path, std::string_view problem) {
    m.decoder().error(base + path, m.node(), problem);
  };
  std::set<std::string> names, sim_names;
  for (size_t i = 0; i < s.sims.size(); ++i) {
    if (!names.insert(s.sims[i].name).second) {
      fail(fmt::format("sims[{}].name", i), fmt::format("duplicate name \"{}\"", s.sims[i].name));
    }
    sim_names.insert(s.sims[i].name);
  }
  for (size_t i = 0; i < s.routers.size(); ++i) {
    const RouterSpec& r = s.routers[i];
    if (!names.insert(r.name).second) {
      fail(fmt::format("routers[{}].name", i), fmt::format("duplicate name \"{}\"", r.name));
    }
    for (size_t j = 0; j < r.endpoints.size(); ++j) {
      if (sim_names.count(r.endpoints[j]) == 0) {
        fail(fmt::format("routers[{}].endpoints[{}]", i, j),
             fmt::format("no sim named \"{}\"", r.endpoints[j]));
      }
    }
    if (s.sims.empty()) fail(fmt::format("routers[{}]", i), "a router needs at least one sim");
  }
}

namespace {

// A profile is a built-in name unless it looks like a file path.
bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || s.ends_with(".yaml") || s.ends_with(".yml");
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute() || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

}  // namespace

namespace {

Result<StackSpec> decode_spec(const config::Node& node, const std::string& base_dir) {
  auto spec = config::decode<StackSpec>(node);
  if (!spec) return spec.error();
  for (SimSpec& s : spec->sims) {
    if (looks_like_path(s.profile)) s.profile = resolve(base_dir, s.profile);
  }
  for (RouterSpec& r : spec->routers) r.config_file = resolve(base_dir, r.config_file);
  return spec;
}

}  // namespace

Result<StackSpec> parse_stack_spec(std::string_view text, std::string_view source_name,
                                   const std::string& base_dir) {
  auto node = config::parse(text, source_name);
  if (!node) return node.error();
  return decode_spec(*node, base_dir);
}

Result<StackSpec> load_stack_spec(const std::string& path) {
  auto node = config::load_file(path);
  if (!node) return node.error();
  return decode_spec(*node, std::filesystem::path(path).parent_path().string());
}

}  // namespace llmd::stack
