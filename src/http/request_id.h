#pragma once
// x-request-id: the ids the server and the data planes make for requests that arrive without a usable
// one (version-4 UUIDs, RFC 4122, from Boost.Uuid, drawn from an injected Rng so tests can fix them),
// and what counts as usable.

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/uuid/random_generator.hpp>

#include "common/random.h"

namespace llmd::http {

inline constexpr std::string_view kRequestIdHeader = "x-request-id";
// Longer client ids are replaced: they end up in logs, metrics exemplars and upstream headers.
inline constexpr size_t kMaxRequestIdBytes = 128;

// A client's id is kept when it is 1 to kMaxRequestIdBytes visible ASCII characters (no spaces or
// control bytes, which could split a log line or a header).
bool usable_request_id(std::string_view id);

class RequestIdGenerator {
 public:
  // `rng` must outlive the generator (one per request thread: neither is thread-safe).
  explicit RequestIdGenerator(Rng& rng) : gen_(rng) {}
  // Writes the next id ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") into `out`, reusing its capacity.
  void next(std::string& out);

 private:
  boost::uuids::basic_random_generator<Rng> gen_;
};

}  // namespace llmd::http
