#pragma once
// x-request-id values the data planes make for requests that arrive without one: version-4 UUIDs
// (RFC 4122) from Boost.Uuid, drawn from an injected Rng so that tests can fix them.

#include <string>

#include <boost/uuid/random_generator.hpp>

#include "common/random.h"

namespace llmd::epp {

class RequestIdGenerator {
 public:
  // `rng` must outlive the generator (one per request thread: neither is thread-safe).
  explicit RequestIdGenerator(Rng& rng) : gen_(rng) {}
  // Writes the next id ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") into `out`, reusing its capacity.
  void next(std::string& out);

 private:
  boost::uuids::basic_random_generator<Rng> gen_;
};

}  // namespace llmd::epp
