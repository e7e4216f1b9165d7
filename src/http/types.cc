#include "http/types.h"

#include <algorithm>

#include <boost/beast/core/string.hpp>
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

// Calls f(line_begin, line_end, name, value) for each "Name: value\r\n" line until f returns true.
template <class F>
void scan_lines(std::string_view lines, F&& f) {
  size_t at = 0;
  while (at < lines.size()) {
    size_t end = lines.find("\r\n", at);
    if (end == std::string_view::npos) end = lines.size();
    const std::string_view line = lines.substr(at, end - at);
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    if (f(at, std::min(end + 2, lines.size()), name, value)) return;
    at = end + 2;
  }
}

}  // namespace

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  char* p = buf + sizeof(buf);
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out.append(p, static_cast<size_t>(buf + sizeof(buf) - p));
}

bool is_hop_by_hop(Field f) {
  switch (f) {
    case Field::connection:
    case Field::keep_alive:
    case Field::proxy_connection:
    case Field::transfer_encoding:
    case Field::te:
    case Field::trailer:
    case Field::upgrade:
    case Field::proxy_authenticate:
    case Field::proxy_authorization:
      return true;
    default:
      return false;
  }
}

void connection_options(const Request& req, std::vector<std::string>& out) {
  out.clear();
  for (const auto& f : req) {
    if (f.name() != Field::connection) continue;
    std::string_view rest = f.value();
    for (;;) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty() && !beast::iequals(item, "close") && !beast::iequals(item, "keep-alive")) {
        std::string& name = out.emplace_back(item);
        for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
}

bool is_connection_option(std::string_view name, const std::vector<std::string>& options) {
  for (const auto& o : options) {
    if (beast::iequals(name, o)) return true;
  }
  return false;
}

void WireHead::clear() {
  status = 0;
  lines_.clear();
  has_date_ = has_server_ = has_length_ = false;
}

void WireHead::add(std::string_view name, std::string_view value) {
  has_date_ |= beast::iequals(name, "date");
  has_server_ |= beast::iequals(name, "server");
  has_length_ |= beast::iequals(name, "content-length");
  lines_.append(name).append(": ").append(value).append("\r\n");
}

void WireHead::remove(std::string_view name) {
  std::string kept;
  bool removed = false;
  size_t copied = 0;
  scan_lines(lines_, [&](size_t begin, size_t end, std::string_view n, std::string_view) {
    if (beast::iequals(n, name)) {
      if (!removed) kept.reserve(lines_.size());
      removed = true;
      kept.append(lines_, copied, begin - copied);
      copied = end;
    }
    return false;
  });
  if (!removed) return;
  kept.append(lines_, copied, std::string::npos);
  lines_ = std::move(kept);
  if (beast::iequals(name, "date")) has_date_ = false;
  if (beast::iequals(name, "server")) has_server_ = false;
  if (beast::iequals(name, "content-length")) has_length_ = false;
}

void WireHead::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

std::string_view WireHead::find(std::string_view name) const {
  std::string_view found;
  scan_lines(lines_, [&](size_t, size_t, std::string_view n, std::string_view v) {
    if (!beast::iequals(n, name)) return false;
    found = v;
    return true;
  });
  return found;
}

std::string openai_error_body(Status status, std::string_view message, std::string_view type,
                              std::string_view param) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type.empty() ? default_error_type(status) : type;
  if (param.empty()) {
    error["param"] = nullptr;
  } else {
    error["param"] = param;
  }
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
