// The single llmd executable. Every service and tool is a subcommand, registered in kCommands.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/version.h"
#include "common/command.h"
#include "demo/demo_command.h"
#include "extproc/epp_command.h"
#include "loadgen/bench_command.h"
#include "log/log.h"
#include "router/router_command.h"
#include "sim/server/sim_command.h"
#include "stack/up_command.h"
#include "tokenizer/tokenize_command.h"

namespace {

using llmd::cli::CommandSpec;

const CommandSpec kCommands[] = {
    {"version", "Print the llmd version", &llmd::cli::setup_version_command},
    {"bench", "Benchmark OpenAI-compatible endpoints (load generator and reports)",
     &llmd::loadgen::setup_bench_command},
    {"tokenize", "Tokenize text or a chat with a Hugging Face tokenizer.json; decode ids",
     &llmd::cli::setup_tokenize_command},
    {"sim", "Simulated vLLM replicas: iteration-level batching, prefix caching, KV events, P/D",
     &llmd::sim::setup_sim_command},
    {"router", "Inference scheduler (EndpointPickerConfig) behind a built-in OpenAI gateway",
     &llmd::router::setup_router_command},
    {"epp",
     "Inference scheduler as an Envoy ext_proc endpoint picker for Gateway API Inference Extension gateways",
     &llmd::extproc::setup_epp_command},
    {"up", "Start a local stack (sims, routers) from a stack file; Ctrl-C stops it",
     &llmd::stack::setup_up_command},
    {"demo", "Round-robin vs llm-d's default scheduler on simulated replicas: the headline result",
     &llmd::demo::setup_demo_command},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"llmd: an orchestration layer for vLLM and SGLang fleets (llm-d compatible)"};
  app.require_subcommand(1);
  std::string log_level;
  app.add_option("--log-level", log_level,
                 "trace|debug|info|warn|error|off (default: $LLMD_LOG_LEVEL or info)");
  app.set_version_flag("--version", std::string("llmd ") + llmd::cli::kVersion);

  std::vector<std::pair<CLI::App*, llmd::cli::RunFn>> runs;
  for (const auto& spec : kCommands) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.description);
    runs.emplace_back(sub, spec.setup(*sub));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!llmd::log::init(log_level)) {
    fmt::print(stderr, "llmd: unknown --log-level '{}'\n", log_level);
    return 2;
  }
  for (auto& [sub, run] : runs) {
    if (sub->parsed()) return run();
  }
  return 2;
}
