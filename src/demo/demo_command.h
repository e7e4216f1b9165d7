#pragma once
// `llmd demo` (what `make demo` runs): the llm-d headline result on one machine. It starts
// simulated Qwen3-32B replicas, sends one shared-prefix workload through a round-robin router and
// then through llm-d's default scheduler (fresh replicas each time), and prints the two runs side
// by side and writes the HTML report. See docs/benchmarking.md.

#include "common/command.h"

namespace llmd::demo {

cli::RunFn setup_demo_command(CLI::App& app);

}  // namespace llmd::demo
