#include "sched/metrics_source.h"

#include <algorithm>

#include "metrics/text_format.h"

namespace llmd::sched {

void EndpointGauges::add(std::string_view family, std::string_view help, const Endpoint& endpoint,
                         std::span<const LabelPair> extra, double value) {
  Family* f = nullptr;
  for (auto& existing : families_) {
    if (existing.name == family) f = &existing;
  }
  if (f == nullptr) f = &families_.emplace_back(Family{std::string(family), std::string(help), {}});
  const std::string_view id = endpoint.id;
  const size_t slash = id.find('/');
  const std::string_view ns = slash == std::string_view::npos ? std::string_view{} : id.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? id : id.substr(slash + 1);
  std::string& out = f->samples;
  out.append(family).append("{endpoint_name=\"");
  metrics::append_escaped_label_value(out, name);
  out.append("\",namespace=\"");
  metrics::append_escaped_label_value(out, ns);
  out.push_back('"');
  for (const auto& [label, v] : extra) {
    out.push_back(',');
    out.append(label).append("=\"");
    metrics::append_escaped_label_value(out, v);
    out.push_back('"');
  }
  out.append("} ");
  metrics::append_double(out, value);
  out.push_back('\n');
}

void EndpointGauges::render(std::string& out, std::span<const std::string> names) const {
  for (const auto& f : families_) {
    if (!names.empty() && std::find(names.begin(), names.end(), f.name) == names.end()) continue;
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(" gauge\n");
    out.append(f.samples);
  }
}

}  // namespace llmd::sched
