#include "sched/endpoint.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/host_port.h"

namespace llmd::sched {

std::string make_endpoint_id(std::string_view ns, std::string_view pod, int rank) {
  return fmt::format("{}/{}-rank-{}", ns, pod, rank);
}

std::string_view Endpoint::label(std::string_view key) const {
  auto it = labels.find(key);
  return it == labels.end() ? std::string_view{} : std::string_view{it->second};
}

const Endpoint* EndpointSnapshot::find(std::string_view id) const {
  auto it = std::lower_bound(endpoints.begin(), endpoints.end(), id,
                             [](const EndpointPtr& e, std::string_view v) { return e->id < v; });
  return it != endpoints.end() && (*it)->id == id ? it->get() : nullptr;
}

const Endpoint* EndpointSnapshot::find_uid(uint64_t uid) const {
  for (const auto& e : endpoints) {
    if (e->uid == uid) return e.get();
  }
  return nullptr;
}

EndpointStore::EndpointStore() : snapshot_(std::make_shared<const EndpointSnapshot>()) {}

Result<void> EndpointStore::validate(const EndpointSpec& spec) {
  if (spec.id.empty()) return make_error(ErrorCode::kInvalidArgument, "endpoint id is empty");
  if (spec.address.empty()) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("endpoint {}: address is empty", spec.id));
  }
  if (spec.port == 0) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("endpoint {}: port is 0", spec.id));
  }
  return {};
}

EndpointPtr EndpointStore::make(EndpointSpec spec, uint64_t uid,
                                std::shared_ptr<const EndpointMetrics> metrics) {
  auto e = std::make_shared<Endpoint>();
  e->uid = uid;
  e->id = std::move(spec.id);
  e->address = std::move(spec.address);
  e->port = spec.port;
  e->host_port = host_port(e->address, e->port);
  e->labels = std::move(spec.labels);
  e->metrics = metrics ? std::move(metrics) : std::make_shared<const EndpointMetrics>();
  return e;
}

void EndpointStore::publish(std::vector<EndpointPtr> endpoints, bool sorted) {
  if (!sorted)
    std::sort(endpoints.begin(), endpoints.end(),
              [](const EndpointPtr& a, const EndpointPtr& b) { return a->id < b->id; });
  auto snap = std::make_shared<EndpointSnapshot>();
  snap->version = ++version_;
  snap->endpoints = std::move(endpoints);
  snapshot_.store(std::move(snap));
}

Result<void> EndpointStore::upsert(EndpointSpec spec) {
  if (auto r = validate(spec); !r) return r;
  std::lock_guard lock(writer_mu_);
  auto cur = snapshot_.load();
  std::vector<EndpointPtr> next = cur->endpoints;
  auto it = std::find_if(next.begin(), next.end(), [&](const EndpointPtr& e) { return e->id == spec.id; });
  if (it != next.end()) {
    *it = make(std::move(spec), (*it)->uid, (*it)->metrics);
  } else {
    next.push_back(make(std::move(spec), next_uid_++, nullptr));
  }
  publish(std::move(next));
  return {};
}

bool EndpointStore::remove(std::string_view id) {
  std::lock_guard lock(writer_mu_);
  auto cur = snapshot_.load();
  std::vector<EndpointPtr> next;
  next.reserve(cur->endpoints.size());
  for (const auto& e : cur->endpoints) {
    if (e->id != id) next.push_back(e);
  }
  if (next.size() == cur->endpoints.size()) return false;
  publish(std::move(next));
  return true;
}

Result<void> EndpointStore::replace_all(std::vector<EndpointSpec> specs) {
  for (const auto& s : specs) {
    if (auto r = validate(s); !r) return r;
  }
  std::sort(specs.begin(), specs.end(),
            [](const EndpointSpec& a, const EndpointSpec& b) { return a.id < b.id; });
  for (size_t i = 1; i < specs.size(); ++i) {
    if (specs[i].id == specs[i - 1].id) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("duplicate endpoint id {}", specs[i].id));
    }
  }
  std::lock_guard lock(writer_mu_);
  auto cur = snapshot_.load();
  std::vector<EndpointPtr> next;
  next.reserve(specs.size());
  for (auto& s : specs) {
    const Endpoint* old = cur->find(s.id);
    if (old != nullptr) {
      next.push_back(make(std::move(s), old->uid, old->metrics));
    } else {
      next.push_back(make(std::move(s), next_uid_++, nullptr));
    }
  }
  publish(std::move(next));
  return {};
}

bool EndpointStore::update_metrics(std::string_view id, EndpointMetrics metrics) {
  auto m = std::make_shared<const EndpointMetrics>(std::move(metrics));
  std::lock_guard lock(writer_mu_);
  auto cur = snapshot_.load();
  std::vector<EndpointPtr> next = cur->endpoints;
  auto it = std::lower_bound(next.begin(), next.end(), id,
                             [](const EndpointPtr& e, std::string_view v) { return e->id < v; });
  if (it == next.end() || (*it)->id != id) return false;
  auto e = std::make_shared<Endpoint>(**it);
  e->metrics = std::move(m);
  *it = std::move(e);
  publish(std::move(next), /*sorted=*/true);
  return true;
}

}  // namespace llmd::sched
