#pragma once
// `llmd tokenize`: encode text (or render and encode a chat) or decode ids from the command line.

#include "common/command.h"

namespace llmd::cli {

RunFn setup_tokenize_command(CLI::App& app);

}  // namespace llmd::cli
