#pragma once
// `llmd sim`: runs N simulated vLLM replicas in one process (see docs/simulator.md).

#include "common/command.h"

namespace llmd::sim {

cli::RunFn setup_sim_command(CLI::App& app);

}  // namespace llmd::sim
