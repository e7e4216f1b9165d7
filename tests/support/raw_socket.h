#pragma once
// Test support: a blocking client socket for hand-made HTTP bytes (framing, smuggling, slow clients).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::testing {

// Bounds how long a raw-socket read may block, so a broken server fails the test instead of hanging
// it. Not a timing assertion.
inline constexpr int kHangGuardSeconds = 30;

class RawSocket {
 public:
  explicit RawSocket(uint16_t port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  bool send(std::string_view data);
  // Reads until the server closes the connection. `closed` tells whether it did (EOF or reset)
  // rather than the hang guard expiring.
  std::string read_to_close(bool* closed = nullptr);
  // Reads until `needle` has arrived (or the connection ends).
  std::string read_until(std::string_view needle);
  // True once the socket has something to read (data or EOF).
  bool readable_now();
  // Closes with a reset (SO_LINGER 0), as a client that gives up may: no TIME_WAIT stays behind, so a
  // test that abandons thousands of connections does not use up the ephemeral ports.
  void abort();

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The status codes of the HTTP/1.x responses in `bytes`, in order (a response's body is skipped by
// its Content-Length, or by its chunked framing).
std::vector<int> response_statuses(std::string_view bytes);

}  // namespace llmd::testing
