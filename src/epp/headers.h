#pragma once
// Header names every llm-d data plane uses between the gateway, the EPP and the model servers
// (llm-d-inference-scheduler pkg/common and GIE's destination-endpoint protocol).

#include <string_view>

#include "http/request_id.h"

namespace llmd::epp {

// Headers only the gateway may set. Clients' copies are removed before forwarding (the Go EPP keeps
// them; llmd is stricter so that a client cannot steer P/D or endpoint selection).
inline constexpr std::string_view kInternalHeaders[] = {
    "x-prefiller-host-port",     "x-gateway-destination-endpoint", "x-gateway-destination-endpoint-served",
    "x-data-parallel-host-port", "x-encoder-hosts-ports",          "x-kv-cache-source-host-port",
};
using http::kRequestIdHeader;
// The endpoint that served the request, set on the response.
inline constexpr std::string_view kServedHeader = "x-gateway-destination-endpoint-served";
// Why a request was refused (rejected-no-endpoints, rejected-saturated, ...).
inline constexpr std::string_view kDroppedReasonHeader = "x-llm-d-request-dropped-reason";

}  // namespace llmd::epp
