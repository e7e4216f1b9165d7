#pragma once
// A subcommand adds its options to `app` and returns the function that runs it (the exit code).
// Subcommands are listed in one explicit table in cli/main.cc.

#include <functional>

#include <CLI/CLI.hpp>

namespace llmd::cli {

using RunFn = std::function<int()>;
using SetupFn = RunFn (*)(CLI::App& app);

struct CommandSpec {
  const char* name;
  const char* description;
  SetupFn setup;
};

}  // namespace llmd::cli
