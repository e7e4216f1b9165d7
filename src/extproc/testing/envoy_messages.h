#pragma once
// ext_proc messages as Envoy sends them, for the tests, the fuzz target's seeds and the load
// generator that play Envoy's side (header-only; needs llmd_extproc_proto).

#include <string>
#include <string_view>
#include <utility>

#include "envoy/service/ext_proc/v3/external_processor.pb.h"

namespace llmd::extproc::testing {

namespace pb = envoy::service::ext_proc::v3;

// A request's headers (:method POST, :path, :authority, content-type JSON) and, as Envoy 1.33+
// does, the processing modes in protocol_config.
inline pb::ProcessingRequest request_headers(std::string_view path = "/v1/completions",
                                             bool end_of_stream = false,
                                             pb::BodySendMode mode = pb::FULL_DUPLEX_STREAMED) {
  pb::ProcessingRequest r;
  auto* h = r.mutable_request_headers();
  h->set_end_of_stream(end_of_stream);
  const std::pair<std::string_view, std::string_view> fields[] = {
      {":method", "POST"}, {":path", path}, {":authority", "gateway"}, {"content-type", "application/json"}};
  for (const auto& [k, v] : fields) {
    auto* hv = h->mutable_headers()->add_headers();
    hv->set_key(std::string(k));
    hv->set_raw_value(std::string(v));
  }
  r.mutable_protocol_config()->set_request_body_mode(mode);
  r.mutable_protocol_config()->set_response_body_mode(mode);
  return r;
}

inline pb::ProcessingRequest request_body(std::string bytes, bool end_of_stream) {
  pb::ProcessingRequest r;
  r.mutable_request_body()->set_body(std::move(bytes));
  r.mutable_request_body()->set_end_of_stream(end_of_stream);
  return r;
}

// The raw_value a mutation sets for `key`; "<absent>" when it sets none.
inline std::string header(const pb::HeaderMutation& m, std::string_view key) {
  for (const auto& o : m.set_headers())
    if (o.header().key() == key) return o.header().raw_value();
  return "<absent>";
}

}  // namespace llmd::extproc::testing
