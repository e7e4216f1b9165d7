#pragma once

#include "common/command.h"

namespace llmd::cli {

inline constexpr const char* kVersion = LLMD_VERSION_STRING;

RunFn setup_version_command(CLI::App& app);

}  // namespace llmd::cli
