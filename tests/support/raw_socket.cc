#include "support/raw_socket.h"

#include <cerrno>
#include <charconv>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmd::testing {

RawSocket::RawSocket(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  timeval tv{kHangGuardSeconds, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawSocket::send(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string RawSocket::read_to_close(bool* closed) {
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (closed != nullptr) *closed = n == 0 || errno == ECONNRESET;
    return out;
  }
}

std::string RawSocket::read_until(std::string_view needle) {
  std::string out;
  char buf[4096];
  while (out.find(needle) == std::string::npos) {
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void RawSocket::abort() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd_);
  fd_ = -1;
}

bool RawSocket::readable_now() {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

namespace {

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char a = line[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != name[i]) return false;
  }
  return true;
}

}  // namespace

std::vector<int> response_statuses(std::string_view bytes) {
  std::vector<int> out;
  while (bytes.starts_with("HTTP/1.")) {
    const size_t head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string_view::npos || bytes.size() < 12) break;
    int status = 0;
    std::from_chars(bytes.data() + 9, bytes.data() + 12, status);
    out.push_back(status);
    const std::string_view head = bytes.substr(0, head_end + 2);
    bytes.remove_prefix(head_end + 4);
    size_t length = 0;
    bool chunked = false;
    for (size_t at = head.find("\r\n") + 2; at < head.size();) {
      const size_t eol = head.find("\r\n", at);
      const std::string_view line = head.substr(at, eol - at);
      if (iequals_prefix(line, "content-length:")) {
        std::string_view v = line.substr(15);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        std::from_chars(v.data(), v.data() + v.size(), length);
      } else if (iequals_prefix(line, "transfer-encoding:")) {
        chunked = true;
      }
      at = eol + 2;
    }
    if (!chunked) {
      bytes.remove_prefix(std::min(length, bytes.size()));
      continue;
    }
    // Chunks until the zero-size one and the blank line after it.
    for (;;) {
      const size_t eol = bytes.find("\r\n");
      if (eol == std::string_view::npos) return out;
      size_t size = 0;
      std::from_chars(bytes.data(), bytes.data() + eol, size, 16);
      bytes.remove_prefix(eol + 2);
      if (size == 0) {
        const size_t end = bytes.find("\r\n");
        bytes.remove_prefix(end == std::string_view::npos ? bytes.size() : end + 2);
        break;
      }
      bytes.remove_prefix(std::min(size + 2, bytes.size()));
    }
  }
  return out;
}

}  // namespace llmd::testing
