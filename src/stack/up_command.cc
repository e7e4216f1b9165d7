#include "stack/up_command.h"

#include <memory>
#include <string>

#include <fmt/format.h>

#include "stack/stack.h"
#include "stack/stack_spec.h"

namespace llmd::stack {

namespace {

constexpr int kExitConfig = 2;

struct UpOptions {
  std::string file;
  std::string log_dir;
};

int run_up(const UpOptions& o) {
  auto spec = load_stack_spec(o.file);
  if (!spec) {
    fmt::print(stderr, "llmd up: {}\n", spec.error().message);
    return kExitConfig;
  }
  StackOptions so;
  so.log_dir = o.log_dir;
  fmt::print(stderr, "llmd up: starting {} sim group(s) and {} router(s) from {}\n", spec->sims.size(),
             spec->routers.size(), o.file);
  auto stack = Stack::start(*spec, so);
  if (!stack) {
    fmt::print(stderr, "llmd up: {}\n", stack.error().message);
    return 1;
  }
  fmt::print("llmd up: ready\n");
  for (const Component& c : (*stack)->components()) {
    if (c.kind == "router") {
      fmt::print("  {:<12} router  {}  admin {}  pid {}\n", c.name, c.urls[0], c.urls[1], c.pid);
    } else {
      for (size_t i = 0; i < c.urls.size(); ++i) {
        fmt::print("  {:<12} sim     {}  replica {}  pid {}\n", c.name, c.urls[i], i, c.pid);
      }
    }
  }
  fmt::print("Ctrl-C stops the stack.\n");
  std::fflush(stdout);
  const int code = (*stack)->wait();
  fmt::print(stderr, "llmd up: stopped\n");
  return code;
}

}  // namespace

cli::RunFn setup_up_command(CLI::App& app) {
  auto o = std::make_shared<UpOptions>();
  app.add_option("-f,--file", o->file, "Stack file (see examples/ and docs/stack.md)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--log-dir", o->log_dir,
                 "Write each component's output to <dir>/<name>.log instead of forwarding it")
      ->check(CLI::ExistingDirectory);
  return [o] { return run_up(*o); };
}

}  // namespace llmd::stack
