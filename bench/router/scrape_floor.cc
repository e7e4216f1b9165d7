// The floor under router benchmark (s): about the least any scraper can spend fetching `/metrics`
// from N endpoints every interval over loopback on this machine. It sends the router's request bytes
// on the router's schedule (all endpoints on a shared grid, answers looked for 1 ms later), with one
// thread, no event loop, no parsing beyond the response framing and no allocation after start-up.
// On loopback the sender runs the receiver's TCP processing and wakes the receiving thread, so the
// floor includes the backend's share of every exchange, as the router's figure does.
// Runs until SIGINT or SIGTERM; then prints "exchanges=N late=N" (late: answers not in by the next
// pass, which skips that endpoint's request).

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

std::atomic<bool> g_stop{false};

struct Peer {
  int fd = -1;
  bool waiting = false;  // a request is out and its answer not yet complete
  std::string buf;       // the answer so far (capacity reserved once)
};

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

void sleep_until(int64_t ns) {
  const timespec t{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == EINTR && !g_stop) {
  }
}

// True once `buf` holds a whole answer: the head and Content-Length bytes of body.
bool complete(std::string_view buf) {
  const size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) return false;
  constexpr std::string_view kName = "\r\ncontent-length:";
  size_t length = 0;
  for (size_t at = buf.find("\r\n"); at < end; at = buf.find("\r\n", at + 2)) {
    if (end - at >= kName.size() && strncasecmp(buf.data() + at, kName.data(), kName.size()) == 0) {
      length = std::strtoull(buf.data() + at + kName.size(), nullptr, 10);
    }
  }
  return buf.size() >= end + 4 + length;
}

// Reads until the answer is whole or nothing more has arrived (one recv for a typical answer, as
// the router does); false when the connection failed.
bool receive(Peer& p) {
  char chunk[16384];
  for (;;) {
    const ssize_t n = ::recv(p.fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      p.buf.append(chunk, static_cast<size_t>(n));
      if (complete(p.buf)) return true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("minimal /metrics poller: the floor under llmd router benchmark (s)");
  std::string host = "127.0.0.1";
  unsigned first_port = 0;
  unsigned count = 100;
  unsigned interval_ms = 50;
  unsigned answer_poll_us = 1000;
  std::string target = "/metrics";
  app.add_option("--host", host, "endpoints' address (IPv4)");
  app.add_option("--first-port", first_port, "port of the first endpoint; endpoint i listens on first + i")
      ->required();
  app.add_option("--count", count, "endpoints");
  app.add_option("--interval-ms", interval_ms, "scrape interval");
  app.add_option("--answer-poll-us", answer_poll_us, "wait after a pass's requests before reading answers");
  app.add_option("--target", target, "request target, with the router's query string");
  CLI11_PARSE(app, argc, argv);

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/plain\r\nUser-Agent: llmd\r\n\r\n";
  std::vector<Peer> peers(count);
  for (unsigned i = 0; i < count; ++i) {
    Peer& p = peers[i];
    p.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(first_port + i));
    if (p.fd < 0 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
        ::connect(p.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::fprintf(stderr, "scrape_floor: cannot connect to %s:%u: %s\n", host.c_str(), first_port + i,
                   std::strerror(errno));
      return 1;
    }
    const int one = 1;
    ::setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p.buf.reserve(size_t{64} * 1024);
  }

  const int64_t interval = static_cast<int64_t>(interval_ms) * 1'000'000;
  const int64_t answer_poll = static_cast<int64_t>(answer_poll_us) * 1'000;
  uint64_t exchanges = 0;
  uint64_t late = 0;
  int64_t grid = (now_ns() / interval + 1) * interval;
  while (!g_stop) {
    sleep_until(grid);
    for (Peer& p : peers) {
      if (p.waiting) {
        ++late;
        continue;
      }
      if (::send(p.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
        std::fprintf(stderr, "scrape_floor: send failed: %s\n", std::strerror(errno));
        return 1;
      }
      p.waiting = true;
    }
    grid += interval;
    for (int64_t at = now_ns() + answer_poll; at < grid && !g_stop; at = now_ns() + answer_poll) {
      sleep_until(at);
      bool pending = false;
      for (Peer& p : peers) {
        if (!p.waiting) continue;
        if (!receive(p)) {
          std::fprintf(stderr, "scrape_floor: an endpoint closed the connection\n");
          return 1;
        }
        if (complete(p.buf)) {
          p.waiting = false;
          p.buf.clear();
          ++exchanges;
        } else {
          pending = true;
        }
      }
      if (!pending) break;
    }
  }
  std::printf("exchanges=%llu late=%llu\n", static_cast<unsigned long long>(exchanges),
              static_cast<unsigned long long>(late));
  return 0;
}
