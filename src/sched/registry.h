#pragma once
// Plugin registry: type name → factory, with the deprecated aliases llm-d still accepts. A factory decodes
// and validates the instance's parameters once (strictly, errors naming their path) and returns the
// instance; nothing downstream of a factory sees YAML. The built-in types are registered by the one
// explicit register_builtin_plugins() (builtin_plugins.h), not by static initialisers.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/error.h"
#include "config/config.h"
#include "sched/plugin.h"
#include "sched/services.h"

namespace llmd::sched {

struct PluginArgs {
  TypedName typed_name;     // type is the canonical type even when the config used an alias
  config::Node parameters;  // absent when the config gave none
  const Clock* clock = &SystemClock::instance();
  const Services* services = &Services::none();
  std::string path;  // where the config declared the plugin ("plugins[2]"), for errors
};

// The service T a plugin cannot work without; kConfig naming the plugin's config path when the data
// plane did not provide it. `what` names the service in the message ("KV-block index").
template <class T>
Result<std::shared_ptr<T>> require_service(const PluginArgs& args, std::string_view what) {
  if (auto s = args.services->find<T>()) return s;
  return make_error(
      ErrorCode::kConfig,
      fmt::format("{}: plugin type \"{}\" needs the {}, which this data plane does not provide",
                  args.path.empty() ? args.typed_name.name : args.path, args.typed_name.type, what));
}

using PluginFactory = Result<std::shared_ptr<Plugin>> (*)(const PluginArgs& args);

// Decodes `Params` (which declares `void decode(config::MapReader&, Params&)` doing its own range
// checks) over its defaults, then constructs `P(typed_name, params, args)`.
template <class P, class Params>
Result<std::shared_ptr<Plugin>> make_plugin(const PluginArgs& args) {
  Params params{};
  if (auto r = config::decode_into(args.parameters, params); !r) return r.error();
  return std::shared_ptr<Plugin>(std::make_shared<P>(args.typed_name, params, args));
}

struct NoParams {};
inline void decode(config::MapReader&, NoParams&) {}

// For plugins without parameters: anything but an absent, null or empty mapping is an error.
template <class P>
Result<std::shared_ptr<Plugin>> make_plugin_without_params(const PluginArgs& args) {
  NoParams none;
  if (auto r = config::decode_into(args.parameters, none); !r) return r.error();
  return std::shared_ptr<Plugin>(std::make_shared<P>(args.typed_name));
}

class PluginRegistry {
 public:
  struct Entry {
    std::string type;  // canonical type
    PluginFactory factory = nullptr;
  };
  struct Lookup {
    const Entry* entry = nullptr;  // null when unknown
    bool deprecated_alias = false;
  };

  // kInternal on a duplicate type or alias (a programming error in the registration list).
  Result<void> add(std::string type, PluginFactory factory);
  // A deprecated name for `target`, which must already be registered.
  Result<void> add_alias(std::string alias, std::string_view target);

  Lookup find(std::string_view type) const;
  // Canonical types and aliases, sorted (for error messages and docs).
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::string, std::less<>> aliases_;
};

}  // namespace llmd::sched
