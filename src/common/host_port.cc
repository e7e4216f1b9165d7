#include "common/host_port.h"

#include <charconv>

namespace llmd {

void append_host_port(std::string& out, std::string_view host, uint16_t port) {
  // Only an IPv6 literal holds a colon; a bracketed one is already in URL form.
  const bool bracket = host.find(':') != std::string_view::npos && !host.starts_with('[');
  if (bracket) out.push_back('[');
  out.append(host);
  if (bracket) out.push_back(']');
  out.push_back(':');
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  out.append(digits, end);
}

std::string host_port(std::string_view host, uint16_t port) {
  std::string out;
  out.reserve(host.size() + 8);
  append_host_port(out, host, port);
  return out;
}

}  // namespace llmd
