#pragma once
// How every data plane answers a scheduling error, as llm-d's EPP does (pkg/common/error): the
// HTTP status, x-llm-d-request-dropped-reason and the error_code metric label.

#include <string_view>

#include "common/error.h"
#include "epp/epp_metrics.h"

namespace llmd::epp {

struct Rejection {
  int status;               // HTTP status
  std::string_view reason;  // x-llm-d-request-dropped-reason; empty when llm-d sets none
  RequestError error;       // error_code label
};

// kUnavailable: no endpoint (503, rejected-no-endpoints); kResourceExhausted: filters left none
// (429, rejected-saturated); anything else is internal (500).
inline Rejection rejection_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnavailable:
      return {503, "rejected-no-endpoints", RequestError::kServiceUnavailable};
    case ErrorCode::kResourceExhausted:
      return {429, "rejected-saturated", RequestError::kResourceExhausted};
    default:
      return {500, {}, RequestError::kInternal};
  }
}

}  // namespace llmd::epp
