#pragma once
// "host:port" as URLs and llm-d's headers spell an address: an IPv6 literal goes in brackets
// ("[::1]:8000", RFC 3986 §3.2.2), names and IPv4 addresses do not.

#include <cstdint>
#include <string>
#include <string_view>

namespace llmd {

// Appends `host`:`port` to `out`. A host already in brackets is kept as it is.
void append_host_port(std::string& out, std::string_view host, uint16_t port);
std::string host_port(std::string_view host, uint16_t port);

}  // namespace llmd
