// Server workers in busy-poll mode (ServerOptions::busy_poll), on 127.0.0.1 in-process.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"

namespace llmd::http {
namespace {

using namespace std::chrono_literals;

Router echo_router() {
  Router r;
  r.add(Verb::post, "/echo", [](Request& req, Responder& res) -> Awaitable<void> {
    co_await res.send(json_response(Status::ok, req.body(), req.version(), req.keep_alive()));
  });
  r.add(Verb::get, "/stream", [](Request&, Responder& res) -> Awaitable<void> {
    ResponseHead head;
    head.result(Status::ok);
    if (!co_await res.begin_stream(std::move(head))) co_return;
    for (int i = 0; i < 3; ++i) {
      const bool written = co_await res.write("part" + std::to_string(i));
      if (!written) co_return;
    }
    co_await res.finish();
  });
  return r;
}

template <class T>
T run_client(boost::asio::io_context& ioc, Awaitable<T> op) {
  auto f = boost::asio::co_spawn(ioc, std::move(op), boost::asio::use_future);
  ioc.restart();
  ioc.run();
  return f.get();
}

Request make_post(std::string body) {
  Request req{Verb::post, "/echo", 11};
  req.body() = std::move(body);
  return req;
}

// State letters ('R' running, 'S' sleeping, ...) of this process's threads other than the caller.
std::vector<char> other_thread_states() {
  std::vector<char> states;
  const long self = ::syscall(SYS_gettid);
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return states;
  while (dirent* d = ::readdir(dir)) {
    if (d->d_name[0] == '.' || std::stol(d->d_name) == self) continue;
    std::ifstream stat(std::string("/proc/self/task/") + d->d_name + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close != std::string::npos && close + 2 < text.size()) states.push_back(text[close + 2]);
  }
  ::closedir(dir);
  return states;
}

TEST(HttpBusyPoll, ServesKeepAliveNewConnectionsAndStreams) {
  ServerOptions options;
  options.threads = 2;
  options.busy_poll = 2ms;
  Server server(options, echo_router());
  ASSERT_TRUE(server.start().has_value());
  const Upstream up{"127.0.0.1", server.port()};

  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  for (int i = 0; i < 50; ++i) {
    auto req = make_post("n" + std::to_string(i));
    auto res = run_client(ioc, client.request(up, req));
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->body(), "n" + std::to_string(i));
  }
  for (int i = 0; i < 5; ++i) {
    Client fresh(ioc.get_executor());  // a new connection each time: exercises the accept path
    auto req = make_post("fresh" + std::to_string(i));
    auto res = run_client(ioc, fresh.request(up, req));
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->body(), "fresh" + std::to_string(i));
  }
  Request get{Verb::get, "/stream", 11};
  std::string streamed;
  StreamHandler h;
  h.on_body = [&streamed](std::string_view b) -> Awaitable<bool> {
    streamed.append(b);
    co_return true;
  };
  auto st = run_client(ioc, client.stream(up, get, std::move(h)));
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_EQ(streamed, "part0part1part2");
  const ServerStats stats = server.stats();
  EXPECT_EQ(stats.requests, 56u);
  // Each worker's window starts closed, so each slept at least once, counted before blocking.
  EXPECT_GE(stats.sleeps, 2u);

  server.drain();
  server.wait();  // the polling loops end once their io_contexts stop
}

TEST(HttpBusyPoll, IdleWorkersGoBackToSleep) {
  ServerOptions options;
  options.threads = 2;
  options.busy_poll = 1ms;
  Server server(options, echo_router());
  ASSERT_TRUE(server.start().has_value());
  boost::asio::io_context ioc;
  {
    Client client(ioc.get_executor());
    auto req = make_post("wake");
    auto res = run_client(ioc, client.request(Upstream{"127.0.0.1", server.port()}, req));
    ASSERT_TRUE(res.has_value()) << res.error().message;
  }
  // A worker that polled forever would stay runnable; give the machine ample time to show sleep.
  bool all_asleep = false;
  for (int i = 0; i < 400 && !all_asleep; ++i) {
    std::this_thread::sleep_for(50ms);
    const auto states = other_thread_states();
    all_asleep =
        !states.empty() && std::all_of(states.begin(), states.end(), [](char s) { return s != 'R'; });
  }
  EXPECT_TRUE(all_asleep);
  server.drain();
  server.wait();
}

}  // namespace
}  // namespace llmd::http
