#pragma once
// Shared services a data plane hands to the plugins that need them: a KV-block index fed by vLLM's KV
// events, flow-control state and the like. The caller fills a Services before building the plan;
// factories take what they need through PluginArgs, and a plugin whose service is absent fails
// configuration (require_service) instead of running without it.

#include <map>
#include <memory>
#include <string_view>
#include <typeindex>

namespace llmd::sched {

class Services {
 public:
  // Provides `service` as the one T (replacing an earlier one).
  template <class T>
  void provide(std::shared_ptr<T> service) {
    by_type_[std::type_index(typeid(T))] = std::move(service);
  }
  // The T provided, or null.
  template <class T>
  std::shared_ptr<T> find() const {
    auto it = by_type_.find(std::type_index(typeid(T)));
    return it == by_type_.end() ? nullptr : std::static_pointer_cast<T>(it->second);
  }

  // An empty set, for callers that provide nothing.
  static const Services& none() {
    static const Services empty;
    return empty;
  }

 private:
  std::map<std::type_index, std::shared_ptr<void>> by_type_;
};

}  // namespace llmd::sched
