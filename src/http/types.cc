#include "http/types.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace llmd::http {

namespace {

std::string_view default_error_type(Status status) {
  switch (status) {
    case Status::bad_request:
      return "BadRequestError";
    case Status::unauthorized:
      return "AuthenticationError";
    case Status::forbidden:
      return "PermissionDeniedError";
    case Status::not_found:
      return "NotFoundError";
    case Status::method_not_allowed:
      return "MethodNotAllowedError";
    case Status::request_timeout:
      return "RequestTimeoutError";
    case Status::payload_too_large:
      return "PayloadTooLargeError";
    case Status::request_header_fields_too_large:
      return "HeadersTooLargeError";
    case Status::unprocessable_entity:
      return "UnprocessableEntityError";
    case Status::too_many_requests:
      return "RateLimitError";
    case Status::bad_gateway:
      return "BadGatewayError";
    case Status::service_unavailable:
      return "ServiceUnavailableError";
    case Status::gateway_timeout:
      return "GatewayTimeoutError";
    default:
      break;
  }
  return bhttp::to_status_class(status) == bhttp::status_class::client_error ? "BadRequestError"
                                                                             : "InternalServerError";
}

}  // namespace

std::string openai_error_body(Status status, std::string_view message, std::string_view type) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type.empty() ? default_error_type(status) : type;
  error["param"] = nullptr;
  error["code"] = static_cast<int>(status);
  boost::json::object root;
  root["error"] = std::move(error);
  return boost::json::serialize(root);
}

Response json_response(Status status, std::string body, unsigned version, bool keep_alive) {
  Response res{status, version};
  res.set(Field::content_type, "application/json");
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  return res;
}

Response error_response(Status status, std::string_view message, unsigned version, bool keep_alive) {
  return json_response(status, openai_error_body(status, message), version, keep_alive);
}

}  // namespace llmd::http
