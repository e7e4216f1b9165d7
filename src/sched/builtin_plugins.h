#pragma once
// The one explicit list of built-in scheduler plugins (like llm-d's RegisterAllPlugins()).

#include "common/error.h"
#include "sched/registry.h"

namespace llmd::sched {

// Registers every built-in plugin type and deprecated alias. Fails only on a duplicate registration.
Result<void> register_builtin_plugins(PluginRegistry& registry);

// A registry holding the built-ins.
const PluginRegistry& builtin_registry();

}  // namespace llmd::sched
