#include "support/process.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ports.h"

extern char** environ;

namespace llmd::testing {

std::string llmd_binary() {
  const char* p = std::getenv("LLMD_BIN");
  return p != nullptr && *p != '\0' ? p : LLMD_BIN_DEFAULT;
}

std::string source_dir() {
  const char* p = std::getenv("LLMD_SOURCE_DIR");
  return p != nullptr && *p != '\0' ? p : LLMD_SOURCE_DIR_DEFAULT;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

uint16_t free_port() {
  auto p = pick_free_port();
  if (!p) throw std::runtime_error("cannot bind an ephemeral port");
  return *p;
}

uint16_t free_port_range(int count) {
  auto p = pick_free_port_range(count);
  if (!p) throw std::runtime_error("no free port range");
  return *p;
}

bool wait_for_port(uint16_t port, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::close(fd);
    if (rc == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Process::Process(std::vector<std::string> argv) {
  char tmpl[] = "/tmp/llmd-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t parent = ::getpid();
  // fork + exec rather than posix_spawn, for PR_SET_PDEATHSIG: a child dies with the test that
  // started it, also when that test crashes or is killed, as `llmd up` does for its children. Only
  // async-signal-safe calls run between the fork and the exec.
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    const int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, STDIN_FILENO) < 0 || ::dup2(fd, STDOUT_FILENO) < 0 ||
        ::dup2(fd, STDERR_FILENO) < 0)
      ::_exit(127);
    ::execve(cargv[0], cargv.data(), environ);
    ::_exit(127);
  }
  ::close(fd);
  if (pid_ < 0) throw std::runtime_error("fork failed for " + argv[0]);
}

Process::Process(Process&& o) noexcept : pid_(o.pid_), status_(o.status_), log_path_(std::move(o.log_path_)) {
  o.pid_ = -1;
  o.log_path_.clear();
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Process gone(std::move(*this));  // kills and cleans up what this held, at end of scope
    pid_ = std::exchange(o.pid_, -1);
    status_ = o.status_;
    log_path_ = std::exchange(o.log_path_, std::string());
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

bool Process::running() {
  if (pid_ <= 0 || status_ >= 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return false;
}

bool Process::signal(int sig) { return running() && ::kill(pid_, sig) == 0; }

int Process::wait(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (running()) {
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::string Process::output() const {
  std::ifstream f(log_path_, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Process spawn_llmd(const std::vector<std::string>& args) {
  std::vector<std::string> argv{llmd_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process(std::move(argv));
}

bool wait_for_port(Process& p, uint16_t port, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (p.running() && std::chrono::steady_clock::now() < until) {
    if (wait_for_port(port, std::chrono::milliseconds(200))) return p.running();
  }
  return false;
}

Listening spawn_llmd_listening(int count, const std::function<std::vector<std::string>(uint16_t)>& make_args,
                               std::chrono::milliseconds deadline) {
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    const uint16_t port = free_port_range(count);
    Listening l{spawn_llmd(make_args(port)), port, true};
    for (int i = 0; i < count && l.ready; ++i) {
      l.ready = wait_for_port(l.process, static_cast<uint16_t>(port + i), deadline);
    }
    // An exit before listening means a port was taken meanwhile, or a start-up error that every
    // attempt repeats (the last one is returned, with its output).
    if (l.ready || l.process.running() || attempt == kAttempts) return l;
  }
}

Listening spawn_router(int threads, const std::vector<std::string>& extra) {
  return spawn_llmd_listening(2, [&](uint16_t port) {
    std::vector<std::string> args = {"router",
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(port),
                                     "--admin-host",
                                     "127.0.0.1",
                                     "--admin-port",
                                     std::to_string(port + 1),
                                     "--threads",
                                     std::to_string(threads)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  });
}

}  // namespace llmd::testing
