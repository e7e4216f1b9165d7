#include "stack/stack.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/host_port.h"
#include "common/ports.h"
#include "http/client.h"
#include "log/log.h"

namespace llmd::stack {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Longest output line forwarded as one line; longer ones are split (the buffer stays bounded).
constexpr size_t kMaxLine = 16 * 1024;
constexpr auto kProbeInterval = 100ms;
constexpr auto kReapInterval = 20ms;

std::string self_exe() {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string("llmd");
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return "stopped";
}

struct Child {
  Component info;
  bool router = false;
  std::vector<std::string> argv;
  // Readiness: GET probe_path on every probe upstream answers 200 (and, for a router, reports at
  // least `expect_endpoints` ready endpoints).
  std::vector<http::Upstream> probes;
  std::string probe_path;
  size_t expect_endpoints = 0;
  std::string log_path;  // when logging to files
  pid_t pid = -1;
  bool exited = false;
  int status = 0;
  std::unique_ptr<asio::posix::stream_descriptor> output;
};

}  // namespace

struct Stack::Impl {
  StackSpec spec;
  StackOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::signal_set chld{io, SIGCHLD};
  std::optional<asio::signal_set> term;
  std::thread thread;
  std::vector<Child> children;
  std::vector<Component> components;
  std::atomic<bool> healthy{true};
  std::atomic<bool> interrupted{false};

  // Io-thread state.
  bool stopping = false;
  std::string stop_reason;  // why the stack is stopping, for a start() that is still waiting
  std::optional<std::promise<Result<void>>> ready;

  // Completion, observed from other threads (the supervisor is not a hot path: a mutex is fine).
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int exit_code = 0;

  Result<void> spawn_all();
  Result<void> spawn(Child& c);
  asio::awaitable<void> pump_output(Child& c);
  void reap();
  void on_child_exit(Child& c);
  void watch_children();
  void watch_signals();
  asio::awaitable<void> wait_ready();
  asio::awaitable<Result<void>> probe(Child& c, http::Client& client);
  asio::awaitable<void> shutdown(int code);
  void begin_shutdown(int code);
};

Result<void> Stack::Impl::spawn(Child& c) {
  int out_fd = -1;
  int pipe_fds[2] = {-1, -1};
  if (options.log_dir.empty()) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return make_error(ErrorCode::kIo, fmt::format("{}: pipe: {}", c.info.name, std::strerror(errno)));
    }
    out_fd = pipe_fds[1];
  } else {
    c.log_path = options.log_dir + "/" + c.info.name + ".log";
    out_fd = ::open(c.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      return make_error(ErrorCode::kIo,
                        fmt::format("{}: {}: {}", c.info.name, c.log_path, std::strerror(errno)));
    }
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<char*> argv;
  for (auto& a : c.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the supervisor
    if (::getppid() != parent) ::_exit(1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    static constexpr char kMsg[] = "llmd up: exec failed\n";
    [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    ::_exit(127);
  }
  const int fork_errno = errno;
  if (null_fd >= 0) ::close(null_fd);
  ::close(out_fd);
  if (pid < 0) {
    if (pipe_fds[0] >= 0) ::close(pipe_fds[0]);
    return make_error(ErrorCode::kIo, fmt::format("{}: fork: {}", c.info.name, std::strerror(fork_errno)));
  }
  ::setpgid(pid, pid);  // also here, so a kill(-pid) right away cannot miss the group
  c.pid = pid;
  c.info.pid = pid;
  if (pipe_fds[0] >= 0) {
    c.output = std::make_unique<asio::posix::stream_descriptor>(io, pipe_fds[0]);
    asio::co_spawn(io, pump_output(c), asio::detached);
  }
  return {};
}

Result<void> Stack::Impl::spawn_all() {
  // Sims first: routers scrape them as soon as they start.
  for (Child& c : children) {
    if (c.router) continue;
    if (auto r = spawn(c); !r) return r;
  }
  for (Child& c : children) {
    if (!c.router) continue;
    if (auto r = spawn(c); !r) return r;
  }
  return {};
}

asio::awaitable<void> Stack::Impl::pump_output(Child& c) {
  std::string pending;
  std::array<char, 8192> buf{};
  auto emit = [&c](std::string_view line) {
    const std::string out = fmt::format("[{}] {}\n", c.info.name, line);
    std::fwrite(out.data(), 1, out.size(), stderr);
  };
  for (;;) {
    auto res = co_await c.output->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    const boost::system::error_code ec = std::get<0>(res);
    const size_t n = std::get<1>(res);
    pending.append(buf.data(), n);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      emit(std::string_view(pending).substr(start, nl - start));
    }
    pending.erase(0, start);
    if (pending.size() >= kMaxLine) {
      emit(pending);
      pending.clear();
    }
    if (ec) break;  // EOF: the child and everything it started have closed the pipe
  }
  if (!pending.empty()) emit(pending);
  std::fflush(stderr);
  boost::system::error_code ignored;
  c.output->close(ignored);
}

void Stack::Impl::on_child_exit(Child& c) {
  if (stopping) return;
  healthy = false;
  std::string where = c.log_path.empty() ? "" : fmt::format(" (log: {})", c.log_path);
  log::error("stack component exited; stopping the stack", log::kv("component", c.info.name),
             log::kv("status", describe_status(c.status)));
  fmt::print(stderr, "llmd: {} {}{}; stopping the stack\n", c.info.name, describe_status(c.status), where);
  stop_reason = fmt::format("{} {} before it was ready{}", c.info.name, describe_status(c.status), where);
  begin_shutdown(1);
}

void Stack::Impl::reap() {
  for (Child& c : children) {
    if (c.pid <= 0 || c.exited) continue;
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid || (r < 0 && errno == ECHILD)) {
      c.exited = true;
      c.status = status;
      on_child_exit(c);
    }
  }
}

void Stack::Impl::watch_children() {
  chld.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    reap();
    watch_children();
  });
}

void Stack::Impl::watch_signals() {
  term->async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    log::info("stack stopping on signal", log::kv("signal", sig));
    interrupted = true;
    begin_shutdown(0);
  });
}

asio::awaitable<Result<void>> Stack::Impl::probe(Child& c, http::Client& client) {
  for (const http::Upstream& up : c.probes) {
    http::Request req{http::Verb::get, c.probe_path, 11};
    auto res = co_await client.request(up, req);
    if (!res) co_return res.error();
    if (res->result() != http::Status::ok) {
      co_return make_error(ErrorCode::kUnavailable, fmt::format("{}:{}{} answered {}", up.host, up.port,
                                                                c.probe_path, res->result_int()));
    }
    if (c.expect_endpoints > 0) {
      boost::system::error_code ec;
      const boost::json::value body = boost::json::parse(res->body(), ec);
      const boost::json::object* obj = ec ? nullptr : body.if_object();
      const boost::json::value* n = obj != nullptr ? obj->if_contains("ready_endpoints") : nullptr;
      const int64_t ready_n = n != nullptr && n->is_int64() ? n->as_int64() : 0;
      if (ready_n < static_cast<int64_t>(c.expect_endpoints)) {
        co_return make_error(ErrorCode::kUnavailable,
                             fmt::format("{} of {} endpoints ready", ready_n, c.expect_endpoints));
      }
    }
  }
  co_return Result<void>{};
}

asio::awaitable<void> Stack::Impl::wait_ready() {
  http::ClientOptions co;
  co.connect_timeout = 1s;
  co.first_byte_timeout = 2s;
  co.idle_timeout = 2s;
  http::Client client(io.get_executor(), co);
  const auto deadline = SystemClock::instance().now() + spec.ready_timeout;
  asio::steady_timer timer(io);
  Result<void> outcome{};
  for (Child& c : children) {
    std::string last = "no answer yet";
    for (;;) {
      if (stopping || c.exited) {
        std::string where = c.log_path.empty() ? "" : fmt::format(" (log: {})", c.log_path);
        outcome = make_error(ErrorCode::kUnavailable,
                             c.exited ? fmt::format("{} {} before it was ready{}", c.info.name,
                                                    describe_status(c.status), where)
                                      : fmt::format("stopped while {} was starting", c.info.name));
        break;
      }
      auto r = co_await probe(c, client);
      if (r) break;
      last = r.error().message;
      if (SystemClock::instance().now() >= deadline) {
        outcome = make_error(ErrorCode::kTimeout, fmt::format("{} not ready after {} ms: {}", c.info.name,
                                                              spec.ready_timeout.count(), last));
        break;
      }
      timer.expires_after(kProbeInterval);
      auto w = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)w;
    }
    if (!outcome) break;
  }
  client.close_idle();
  if (ready) {
    ready->set_value(outcome);
    ready.reset();
  }
}

void Stack::Impl::begin_shutdown(int code) {
  if (stopping) return;
  stopping = true;
  asio::co_spawn(io, shutdown(code), asio::detached);
}

asio::awaitable<void> Stack::Impl::shutdown(int code) {
  asio::steady_timer timer(io);
  // Routers first, so no request is routed to a replica that is going away.
  for (bool routers : {true, false}) {
    for (int sig : {SIGTERM, SIGKILL}) {
      bool any = false;
      for (Child& c : children) {
        if (c.router != routers || c.pid <= 0 || c.exited) continue;
        ::kill(-c.pid, sig);
        ::kill(c.pid, sig);  // in case the child had not made its group yet
        any = true;
      }
      if (!any) break;
      const auto until = SystemClock::instance().now() + (sig == SIGTERM ? spec.stop_grace : 5000ms);
      for (;;) {
        reap();
        const bool alive = std::any_of(children.begin(), children.end(), [&](const Child& c) {
          return c.router == routers && c.pid > 0 && !c.exited;
        });
        if (!alive || SystemClock::instance().now() >= until) break;
        timer.expires_after(kReapInterval);
        auto w = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        (void)w;
      }
    }
  }
  if (ready) {  // stopped while starting
    ready->set_value(make_error(ErrorCode::kUnavailable,
                                stop_reason.empty() ? "the stack was stopped while starting" : stop_reason));
    ready.reset();
  }
  boost::system::error_code ignored;
  chld.cancel(ignored);
  if (term) term->cancel(ignored);
  work.reset();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    exit_code = healthy ? code : 1;
  }
  cv.notify_all();
  // Every child is gone; whatever else is pending (a readiness probe) has nothing left to do.
  io.stop();
}

Result<std::unique_ptr<Stack>> Stack::start(const StackSpec& spec, StackOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->options = std::move(options);
  const std::string bin = impl->options.llmd_binary.empty() ? self_exe() : impl->options.llmd_binary;
  auto common_args = [&](std::vector<std::string>& argv) {
    argv.push_back(bin);
    if (!spec.log_level.empty()) {
      argv.push_back("--log-level");
      argv.push_back(spec.log_level);
    }
  };

  std::map<std::string, std::vector<std::string>> sim_endpoints;  // sim name -> host:port per replica
  for (const SimSpec& s : spec.sims) {
    uint16_t port = s.port;
    if (port == 0) {
      auto picked = pick_free_port_range(static_cast<int>(s.replicas));
      if (!picked) return make_error(ErrorCode::kUnavailable, fmt::format("{}: no free port range", s.name));
      port = *picked;
    }
    Child c;
    c.info.name = s.name;
    c.info.kind = "sim";
    c.probe_path = "/health";
    common_args(c.argv);
    for (const std::string& a :
         {std::string("sim"), std::string("--host"), s.host, std::string("--port"), std::to_string(port),
          std::string("--replicas"), std::to_string(s.replicas), std::string("--profile"), s.profile}) {
      c.argv.push_back(a);
    }
    if (!s.model.empty()) {
      c.argv.push_back("--model");
      c.argv.push_back(s.model);
    }
    c.argv.insert(c.argv.end(), s.args.begin(), s.args.end());
    const std::string probe_host = s.host == "0.0.0.0" ? "127.0.0.1" : s.host;
    for (uint32_t i = 0; i < s.replicas; ++i) {
      const auto p = static_cast<uint16_t>(port + i);
      c.probes.push_back({probe_host, p});
      c.info.urls.push_back(fmt::format("http://{}:{}", probe_host, p));
      sim_endpoints[s.name].push_back(host_port(probe_host, static_cast<uint16_t>(p)));
    }
    impl->children.push_back(std::move(c));
  }
  for (const RouterSpec& r : spec.routers) {
    uint16_t port = r.port, admin = r.admin_port;
    if (port == 0) {
      auto p = pick_free_port();
      if (!p) return make_error(ErrorCode::kUnavailable, fmt::format("{}: no free port", r.name));
      port = *p;
    }
    if (admin == 0) {
      std::optional<uint16_t> p;
      do {
        p = pick_free_port();
      } while (p && *p == port);
      if (!p) return make_error(ErrorCode::kUnavailable, fmt::format("{}: no free port", r.name));
      admin = *p;
    }
    Child c;
    c.router = true;
    c.info.name = r.name;
    c.info.kind = "router";
    c.probe_path = "/ready";
    common_args(c.argv);
    for (const std::string& a :
         {std::string("router"), std::string("--host"), r.host, std::string("--port"), std::to_string(port),
          std::string("--admin-host"), r.host, std::string("--admin-port"), std::to_string(admin)}) {
      c.argv.push_back(a);
    }
    if (!r.config_file.empty()) {
      c.argv.push_back("--config-file");
      c.argv.push_back(r.config_file);
    } else if (!r.config.empty()) {
      c.argv.push_back("--config-text");
      c.argv.push_back(r.config);
    }
    std::vector<std::string> sims = r.endpoints;
    if (sims.empty()) {
      for (const SimSpec& s : spec.sims) sims.push_back(s.name);
    }
    for (const std::string& name : sims) {
      const auto& eps = sim_endpoints[name];
      for (size_t i = 0; i < eps.size(); ++i) {
        c.argv.push_back("--endpoint");
        c.argv.push_back(fmt::format("{},name={}-{}", eps[i], name, i));
      }
      c.expect_endpoints += eps.size();
    }
    c.argv.insert(c.argv.end(), r.args.begin(), r.args.end());
    const std::string host = r.host == "0.0.0.0" ? "127.0.0.1" : r.host;
    c.probes.push_back({host, admin});
    c.info.urls.push_back(fmt::format("http://{}:{}", host, port));
    c.info.urls.push_back(fmt::format("http://{}:{}", host, admin));
    impl->children.push_back(std::move(c));
  }

  Impl& im = *impl;
  if (im.options.handle_signals) im.term.emplace(im.io, SIGINT, SIGTERM);
  im.watch_children();
  if (im.term) im.watch_signals();
  std::promise<Result<void>> ready_promise;
  auto ready_future = ready_promise.get_future();
  im.ready.emplace(std::move(ready_promise));

  auto spawned = im.spawn_all();
  im.thread = std::thread([&im] { im.io.run(); });
  if (!spawned) {
    asio::post(im.io, [&im] { im.begin_shutdown(1); });
    {
      std::unique_lock<std::mutex> lock(im.mu);
      im.cv.wait(lock, [&] { return im.done; });
    }
    im.thread.join();
    return spawned.error();
  }
  asio::co_spawn(im.io, im.wait_ready(), asio::detached);
  Result<void> ready = ready_future.get();
  for (const Child& c : im.children) im.components.push_back(c.info);
  auto stack = std::unique_ptr<Stack>(new Stack(std::move(impl)));
  if (!ready) {
    stack->stop();
    return ready.error();
  }
  return stack;
}

Stack::Stack(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Stack::~Stack() { stop(); }

const std::vector<Component>& Stack::components() const { return impl_->components; }

const Component* Stack::find(const std::string& name) const {
  for (const Component& c : impl_->components) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool Stack::healthy() const { return impl_->healthy; }

bool Stack::interrupted() const { return impl_->interrupted; }

int Stack::wait() {
  int code = 0;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    impl_->cv.wait(lock, [&] { return impl_->done; });
    code = impl_->exit_code;
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  return code;
}

void Stack::stop() {
  if (!impl_) return;
  asio::post(impl_->io, [im = impl_.get()] { im->begin_shutdown(0); });
  wait();
}

}  // namespace llmd::stack
