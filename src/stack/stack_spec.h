#pragma once
// What `llmd up -f stack.yaml` starts: simulated replica groups and routers in front of them.
// Decoded strictly (src/config): unknown keys and wrong types name their path.
//
//   log_level: warn                 # passed to every child (default: the children's own)
//   ready_timeout: 60s              # every component must be ready by then
//   stop_grace: 10s                 # SIGTERM, then SIGKILL after this
//   sims:
//     - name: decode                # log prefix and reference for routers
//       replicas: 4                 # replica i listens on port + i
//       port: 8100                  # 0 (default): picked at start
//       profile: qwen3-32b-h100-tp2 # built-in name or a YAML path (relative to this file)
//       model: ""                   # served model name (default: the profile's)
//       args: [--num-gpu-blocks, "8192"]
//   routers:
//     - name: gateway
//       port: 8000                  # the OpenAI API; 0: picked
//       admin_port: 0               # /health, /ready, /metrics
//       config_file: epp.yaml       # EndpointPickerConfig (relative to this file) ...
//       config: |                   # ... or inline; neither: llm-d's default scheduler
//         ...
//       endpoints: [decode]         # sims it routes to (default: all of them)
//       args: []

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace llmd::stack {

struct SimSpec {
  std::string name = "sim";
  uint32_t replicas = 1;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string profile = "instant";
  std::string model;
  std::vector<std::string> args;
};

struct RouterSpec {
  std::string name = "router";
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  uint16_t admin_port = 0;
  std::string config_file;
  std::string config;
  std::vector<std::string> endpoints;  // SimSpec names; empty: every sim
  std::vector<std::string> args;
};

struct StackSpec {
  std::string log_level;
  std::chrono::milliseconds ready_timeout{60'000};
  std::chrono::milliseconds stop_grace{10'000};
  std::vector<SimSpec> sims;
  std::vector<RouterSpec> routers;
};

// Parses a stack document; relative file paths (profiles, config files) are resolved against
// `base_dir`. Errors are kConfig and name the path, e.g. `routers[0].endpoints[1]: no sim named "x"`.
Result<StackSpec> parse_stack_spec(std::string_view text, std::string_view source_name,
                                   const std::string& base_dir);
Result<StackSpec> load_stack_spec(const std::string& path);

}  // namespace llmd::stack
