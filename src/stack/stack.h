#pragma once
// A local llmd stack: sims and routers started as child processes of one supervisor (`llmd up`,
// `llmd demo`). One event-loop thread owns every child: it forwards their output, notices exits
// (SIGCHLD), probes readiness over HTTP and stops them in order (routers first, then sims;
// SIGTERM, then SIGKILL after the grace period). Children run in their own process groups so a
// terminal's Ctrl-C reaches only the supervisor, which then shuts the stack down in that order.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "stack/stack_spec.h"

namespace llmd::stack {

struct StackOptions {
  std::string llmd_binary;  // empty: this executable (/proc/self/exe)
  // Empty: children's output goes to stderr, each line prefixed with `[name] `. Otherwise each
  // child writes to <log_dir>/<name>.log.
  std::string log_dir;
  // SIGINT/SIGTERM stop the stack (wait() then returns 0).
  bool handle_signals = true;
};

struct Component {
  std::string name;
  std::string kind;               // "sim" or "router"
  std::vector<std::string> urls;  // base URLs: one per sim replica; a router's API then its admin
  int pid = -1;
};

class Stack {
 public:
  // Spawns every component and waits until all are ready (sims: every replica's /health is 200;
  // routers: /ready reports every attached replica). On failure the children already started are
  // stopped and the error says which component failed and why.
  static Result<std::unique_ptr<Stack>> start(const StackSpec& spec, StackOptions options);
  ~Stack();  // stops the stack if it is still running
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  const std::vector<Component>& components() const;
  const Component* find(const std::string& name) const;

  // Blocks until a stop signal (when handled) or until a child exits on its own, then stops every
  // child. Returns 0 after a signal or stop(), 1 when a child died.
  int wait();
  // Stops every child (idempotent, thread-safe) and waits for them.
  void stop();
  // False once a child has exited without being asked to.
  bool healthy() const;
  // True once SIGINT or SIGTERM reached the supervisor (with handle_signals).
  bool interrupted() const;

  struct Impl;

 private:
  explicit Stack(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::stack
