#include "epp/request_id.h"

#include <boost/uuid/uuid_io.hpp>

namespace llmd::epp {

void RequestIdGenerator::next(std::string& out) {
  const boost::uuids::uuid id = gen_();
  out.resize(36);
  boost::uuids::to_chars(id, out.data(), out.data() + out.size());
}

}  // namespace llmd::epp
