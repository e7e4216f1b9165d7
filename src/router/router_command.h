#pragma once
// `llmd router`: the inference scheduler behind a built-in OpenAI gateway (see docs/router.md).

#include "common/command.h"

namespace llmd::router {

cli::RunFn setup_router_command(CLI::App& app);

}  // namespace llmd::router
