#include "log/log.h"

#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace llmd::log {

bool set_level(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for it.
  if (lvl == spdlog::level::off && level != "off") return false;
  spdlog::set_level(lvl);
  return true;
}

bool init(std::string_view level) {
  static bool configured = false;
  if (!configured) {
    // Logs go to stderr so that stdout stays clean for command output (tables, JSON).
    auto logger = spdlog::stderr_color_mt("llmd");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %v");
    configured = true;
  }
  std::string_view chosen = level;
  if (chosen.empty()) {
    const char* env = std::getenv("LLMD_LOG_LEVEL");
    chosen = env != nullptr && *env != '\0' ? env : "info";
  }
  return set_level(chosen);
}

namespace detail {
void append_value(std::string& out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
}
}  // namespace detail

}  // namespace llmd::log
