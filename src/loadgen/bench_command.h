#pragma once
// `llmd bench`: runs a benchmark (flags and/or --config bench.yaml) and writes the console table,
// the JSON report and per-request files; `llmd bench report A.json B.json ...` writes the HTML
// comparison.

#include "common/command.h"

namespace llmd::loadgen {

cli::RunFn setup_bench_command(CLI::App& app);

}  // namespace llmd::loadgen
