#pragma once
// Per-request scratch space shared by the plugins of one scheduling cycle and carried on to the
// response hooks. Data producers write typed values under string keys (see data.h); consumers read
// them. Owned by one request, so it needs no synchronisation.

#include <any>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmd::sched {

class CycleState {
 public:
  template <class T>
  void put(std::string key, std::shared_ptr<T> value) {
    for (auto& [k, v] : entries_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    entries_.emplace_back(std::move(key), std::any(std::move(value)));
  }

  // Null when absent or stored with another type.
  template <class T>
  std::shared_ptr<T> get(std::string_view key) const {
    for (const auto& [k, v] : entries_) {
      if (k == key) {
        const auto* p = std::any_cast<std::shared_ptr<T>>(&v);
        return p != nullptr ? *p : nullptr;
      }
    }
    return nullptr;
  }

  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, std::any>> entries_;
};

}  // namespace llmd::sched
