#pragma once
// Error and Result: how llmd reports failure without exceptions on hot paths.

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace llmd {

enum class ErrorCode {
  kInvalidArgument,    // bad input from a client or a caller (HTTP 400)
  kNotFound,           // unknown model, route or key (HTTP 404)
  kResourceExhausted,  // a bound was hit: queue full, body too large, shed (HTTP 429/413)
  kUnavailable,        // no capacity or no endpoint (HTTP 503)
  kTimeout,            // a deadline passed
  kCancelled,          // the caller went away
  kConnectFailed,      // could not reach a peer; safe to retry elsewhere
  kProtocol,           // a peer spoke badly
  kConfig,             // configuration error; message names the path
  kIo,                 // file or socket error
  kInternal,           // a bug
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}
};

// Lets Result<T>::value() throw where exceptions are acceptable (tools, start-up).
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(ErrorCode code, std::string message) { return Error(code, std::move(message)); }

}  // namespace llmd
