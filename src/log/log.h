#pragma once
// Structured logging on spdlog: `log::info("upstream failed", kv("request_id", id), kv("status", 502))`
// prints `upstream failed request_id=abc status=502`. The level comes from --log-level or LLMD_LOG_LEVEL.

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace llmd::log {

// Sets the level ("trace", "debug", "info", "warn", "error", "off"). An empty `level` falls back to
// $LLMD_LOG_LEVEL, then "info". Returns false for an unknown level name.
bool init(std::string_view level = {});
bool set_level(std::string_view level);

template <class V>
struct Field {
  std::string_view key;
  const V& value;
};
template <class V>
Field<V> kv(std::string_view key, const V& value) {
  return Field<V>{key, value};
}

namespace detail {
// Values containing spaces, quotes or '=' are quoted so lines stay machine-parseable.
void append_value(std::string& out, std::string_view v);
inline void append_fields(std::string&) {}
template <class V, class... Rest>
void append_fields(std::string& out, const Field<V>& f, const Rest&... rest) {
  out.push_back(' ');
  out.append(f.key);
  out.push_back('=');
  if constexpr (std::is_convertible_v<const V&, std::string_view>) {
    append_value(out, std::string_view(f.value));
  } else {
    append_value(out, fmt::format("{}", f.value));
  }
  append_fields(out, rest...);
}
template <class... Fields>
void emit(spdlog::level::level_enum lvl, std::string_view msg, const Fields&... fields) {
  if (!spdlog::should_log(lvl)) return;
  std::string line(msg);
  append_fields(line, fields...);
  spdlog::log(lvl, "{}", line);
}
}  // namespace detail

template <class... F>
void trace(std::string_view msg, const F&... f) {
  detail::emit(spdlog::level::trace, msg, f...);
}
template <class... F>
void debug(std::string_view msg, const F&... f) {
  detail::emit(spdlog::level::debug, msg, f...);
}
template <class... F>
void info(std::string_view msg, const F&... f) {
  detail::emit(spdlog::level::info, msg, f...);
}
template <class... F>
void warn(std::string_view msg, const F&... f) {
  detail::emit(spdlog::level::warn, msg, f...);
}
template <class... F>
void error(std::string_view msg, const F&... f) {
  detail::emit(spdlog::level::err, msg, f...);
}

}  // namespace llmd::log
