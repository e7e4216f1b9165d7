#pragma once
// `llmd up -f stack.yaml`: starts a local stack (see stack_spec.h), waits until it is ready,
// prints its URLs and forwards its logs until Ctrl-C or until a component dies.

#include "common/command.h"

namespace llmd::stack {

cli::RunFn setup_up_command(CLI::App& app);

}  // namespace llmd::stack
