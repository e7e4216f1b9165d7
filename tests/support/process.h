#pragma once
// Test support: start real llmd processes on 127.0.0.1 with ports chosen at run time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace llmd::testing {

// Path of the llmd binary under test: $LLMD_BIN, else the one this build produced.
std::string llmd_binary();
// Root of the source tree: $LLMD_SOURCE_DIR, else the one this build was configured from.
std::string source_dir();

// The whole file, or "" when it cannot be read.
std::string read_file(const std::string& path);

// A port that was free a moment ago (bound to 127.0.0.1:0 then released).
uint16_t free_port();
// Several distinct consecutive-free ports starting at the returned port.
uint16_t free_port_range(int count);

// Connects to 127.0.0.1:port until it accepts or the deadline passes.
bool wait_for_port(uint16_t port, std::chrono::milliseconds deadline = std::chrono::seconds(20));

// A child process whose stdout and stderr go to a temporary file. Killed (SIGKILL) on destruction
// unless it has already exited.
class Process {
 public:
  Process() = default;
  explicit Process(std::vector<std::string> argv);
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  // Sends a signal; returns false if the process is gone.
  bool signal(int sig);
  // Waits for exit; returns the exit status (128+signal when killed) or -1 on timeout.
  int wait(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  // Everything the process wrote so far.
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

// Starts `llmd <args...>`.
Process spawn_llmd(const std::vector<std::string>& args);

// Connects to 127.0.0.1:port until it accepts, `p` exits or the deadline passes.
bool wait_for_port(Process& p, uint16_t port, std::chrono::milliseconds deadline);

// An llmd process that listens on ports picked at run time.
struct Listening {
  Process process;
  uint16_t port = 0;   // the first of its ports
  bool ready = false;  // all of its ports accepted connections while it ran
};

// Starts `llmd <make_args(port)...>` to listen on `count` consecutive ports from `port` and waits (up
// to `deadline`) until they all accept. A port that was free a moment ago may be taken before llmd
// binds it (by a parallel test, or as the source port of an outgoing connection); llmd then exits,
// and this starts it again on fresh ports (make_args is called again, so it may pick more ports).
Listening spawn_llmd_listening(int count, const std::function<std::vector<std::string>(uint16_t)>& make_args,
                               std::chrono::milliseconds deadline = std::chrono::seconds(60));

// Starts `llmd router` on 127.0.0.1: the gateway on the returned port, the admin routes on the next,
// with `extra` flags after the listener flags (endpoints, config, timeouts).
Listening spawn_router(int threads, const std::vector<std::string>& extra);

}  // namespace llmd::testing
