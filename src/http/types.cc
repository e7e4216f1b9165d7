#include "http/types.h"

#include <algorithm>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/pct_string_view.hpp>

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

std::vector<std::string> query_values(std::string_view target, std::string_view key) {
  // Split by hand and decode with Boost.URL: its parsers reject the raw brackets of `name[]=`,
  // which Prometheus clients accept and which tools such as curl send unencoded.
  std::vector<std::string> out;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  auto decode = [](std::string_view in, std::string& to) {
    std::string plus_as_space(in);
    std::replace(plus_as_space.begin(), plus_as_space.end(), '+', ' ');
    auto pct = boost::urls::make_pct_string_view(plus_as_space);
    if (!pct) return false;
    to.clear();
    pct->decode({}, boost::urls::string_token::assign_to(to));
    return true;
  };
  std::string k, v;
  while (!query.empty()) {
    const std::string_view part = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), part.size() + 1));
    const size_t eq = part.find('=');
    if (!decode(part.substr(0, eq), k)) return {};
    if (k != key) continue;
    if (!decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), v)) return {};
    out.push_back(v);
  }
  return out;
}

}  // namespace llmd::http
