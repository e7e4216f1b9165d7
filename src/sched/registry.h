#pragma once
// Plugin registry: type name → factory, with deprecated aliases (scheduler.md §1.5). A factory decodes
// and validates the instance's parameters once (strictly, errors naming their path) and returns the
// instance; nothing downstream of a factory sees YAML. The built-in types are registered by the one
// explicit register_builtin_plugins() (builtin_plugins.h), not by static initialisers.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "config/config.h"
#include "sched/plugin.h"

namespace llmd::sched {

struct PluginArgs {
  TypedName typed_name;     // type is the canonical type even when the config used an alias
  config::Node parameters;  // absent when the config gave none
  const Clock* clock = &SystemClock::instance();
};

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
