#pragma once
// `llmd epp`: the inference scheduler as an Envoy ext_proc endpoint picker for Gateway API
// Inference Extension gateways (see docs/epp.md).

#include "common/command.h"

namespace llmd::extproc {

cli::RunFn setup_epp_command(CLI::App& app);

}  // namespace llmd::extproc
