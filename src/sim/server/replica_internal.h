#pragma once
// What the files of one Replica share and nothing else includes: the messages between the HTTP
// worker and the engine thread, and how HTTP answers errors.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "common/mpmc_queue.h"
#include "sim/server/replica.h"

namespace llmd::sim {

enum class ControlKind { kReset, kLoadLora, kUnloadLora };

struct AddTask {
  uint64_t sid = 0;
  RequestSpec spec;
  std::optional<uint32_t> max_tokens_param;
};
struct AbortTask {
  uint64_t sid = 0;
};
struct ReleaseTask {
  std::string request_id;
};
struct ControlTask {
  uint64_t sid = 0;
  ControlKind kind = ControlKind::kReset;
  std::string name;
};

struct Replica::Task {
  std::variant<std::monostate, AddTask, AbortTask, ReleaseTask, ControlTask> v;
};

struct Replica::TaskQueue {
  explicit TaskQueue(size_t capacity) : q(capacity) {}
  MpmcQueue<Task> q;
};

struct Replica::Delivery {
  enum class Kind : uint8_t { kAccepted, kRejected, kToken, kControl };
  uint64_t sid = 0;
  Kind kind = Kind::kToken;
  bool has_token = false;
  uint32_t token = 0;
  bool finished = false;
  FinishReason reason = FinishReason::kStop;
  Usage usage;
  std::vector<uint32_t> held_blocks;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // kRejected / kControl
  bool ok = true;       // kControl
};

// A request's end of the result channel, owned by the HTTP worker thread.
struct Replica::Stream {
  explicit Stream(http::asio::any_io_executor ex) : wake(ex, http::asio::steady_timer::time_point::max()) {}
  http::asio::steady_timer wake;
  std::vector<Delivery> pending;
};

// vLLM's HTTP status for an engine error.
inline http::Status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return http::Status::bad_request;
    case ErrorCode::kNotFound:
      return http::Status::not_found;
    case ErrorCode::kResourceExhausted:
      return http::Status::too_many_requests;
    case ErrorCode::kUnavailable:
      return http::Status::service_unavailable;
    default:
      return http::Status::internal_server_error;
  }
}

// vLLM's error body, answering `req`.
inline http::Response error_for(const http::Request& req, http::Status status, std::string_view message) {
  return http::error_response(status, message, req.version(), req.keep_alive());
}

inline constexpr std::string_view kTaskQueueFull = "The engine's task queue is full.";

}  // namespace llmd::sim
