#pragma once
// Test support: a loopback port that refuses connections for as long as the object lives, for tests
// that need a dead endpoint. Header-only, so unit tests under src/ and integration tests under tests/
// can use it without linking a support library.
//
// A port that was bound and released a moment ago (common/ports.h) is not safe for that: under
// `ctest -j` another test may bind it, and an outgoing connection may get it as its source port and
// then connect to itself. This socket stays bound to 127.0.0.1 and never listens, so connects to the
// port are refused (ECONNREFUSED), and, without SO_REUSEADDR, no other socket can bind the port or use
// it as an ephemeral source port until the object is destroyed.

#include <cstdint>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmd::testing {

class RefusedPort {
 public:
  // Throws std::runtime_error when no loopback port can be bound.
  RefusedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("RefusedPort: socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("RefusedPort: cannot bind 127.0.0.1:0");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~RefusedPort() { ::close(fd_); }
  RefusedPort(const RefusedPort&) = delete;
  RefusedPort& operator=(const RefusedPort&) = delete;

  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace llmd::testing
