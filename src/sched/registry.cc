#include "sched/registry.h"

#include <algorithm>

#include <fmt/format.h>

namespace llmd::sched {

Result<void> PluginRegistry::add(std::string type, PluginFactory factory) {
  if (factory == nullptr || type.empty())
    return make_error(ErrorCode::kInternal, "plugin registration without type or factory");
  if (entries_.count(type) != 0 || aliases_.count(type) != 0) {
    return make_error(ErrorCode::kInternal, fmt::format("plugin type {} registered twice", type));
  }
  std::string key = type;
  entries_.emplace(std::move(key), Entry{std::move(type), factory});
  return {};
}

Result<void> PluginRegistry::add_alias(std::string alias, std::string_view target) {
  if (entries_.find(target) == entries_.end()) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("alias {} targets unregistered type {}", alias, target));
  }
  if (entries_.count(alias) != 0 || aliases_.count(alias) != 0) {
    return make_error(ErrorCode::kInternal, fmt::format("plugin type {} registered twice", alias));
  }
  aliases_.emplace(std::move(alias), std::string(target));
  return {};
}

PluginRegistry::Lookup PluginRegistry::find(std::string_view type) const {
  if (auto it = entries_.find(type); it != entries_.end()) return Lookup{&it->second, false};
  if (auto a = aliases_.find(type); a != aliases_.end()) {
    auto it = entries_.find(a->second);
    return Lookup{it == entries_.end() ? nullptr : &it->second, true};
  }
  return Lookup{};
}

std::vector<std::string> PluginRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_) out.push_back(k);
  for (const auto& [k, v] : aliases_) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace llmd::sched
