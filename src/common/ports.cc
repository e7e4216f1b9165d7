#include "common/ports.h"

#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmd {

namespace {

int bind_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<uint16_t> pick_free_port() {
  int fd = bind_loopback(0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  const int rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  return ntohs(addr.sin_port);
}

std::optional<uint16_t> pick_free_port_range(int count) {
  if (count < 1) return std::nullopt;
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto base = pick_free_port();
    if (!base) return std::nullopt;
    if (*base + count >= 65535) continue;
    std::vector<int> fds;
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      int fd = bind_loopback(static_cast<uint16_t>(*base + i));
      if (fd < 0)
        ok = false;
      else
        fds.push_back(fd);
    }
    for (int fd : fds) ::close(fd);
    if (ok) return base;
  }
  return std::nullopt;
}

}  // namespace llmd
