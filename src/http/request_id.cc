#include "http/request_id.h"

#include <boost/uuid/uuid_io.hpp>

namespace llmd::http {

bool usable_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (const char c : id) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

void RequestIdGenerator::next(std::string& out) {
  const boost::uuids::uuid id = gen_();
  out.resize(36);
  boost::uuids::to_chars(id, out.data(), out.data() + out.size());
}

}  // namespace llmd::http
