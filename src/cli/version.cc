#include "cli/version.h"

#include <fmt/format.h>

namespace llmd::cli {

RunFn setup_version_command(CLI::App&) {
  return [] {
    fmt::print("llmd {}\n", kVersion);
    return 0;
  };
}

}  // namespace llmd::cli
