#include "common/error.h"

#include <stdexcept>

namespace llmd {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kConnectFailed:
      return "connect_failed";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(std::string(to_string(e.code)) + ": " + e.message);
}

}  // namespace llmd
