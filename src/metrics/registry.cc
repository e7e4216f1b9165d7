#include "metrics/registry.h"

#include <algorithm>
#include <cmath>

namespace llmd::metrics {

void Counter::add(double v) noexcept {
  if (!(v > 0.0)) return;  // also rejects NaN
  fraction_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::value() const noexcept {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::observe(double v) noexcept {
  size_t i = bounds_.size();
  if (!std::isnan(v)) {
    i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::count() const noexcept {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += bucket_count(i);
  return n;
}

namespace detail {
namespace {

// Length-prefixed values: unambiguous whatever bytes the values hold.
std::string key_of(std::span<const std::string_view> values) {
  std::string key;
  for (std::string_view v : values) {
    const auto n = static_cast<uint32_t>(v.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key.append(v);
  }
  return key;
}

}  // namespace

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names, FamilyOptions options)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      options_(options) {}

size_t FamilyBase::size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

size_t FamilyBase::slot_for(std::span<const std::string_view> values, bool strict) {
  if (values.size() == label_names_.size()) {
    std::string key = key_of(values);
    if (auto it = index_.find(key); it != index_.end()) return it->second;
    if (regular_series_ < options_.max_series) {
      const size_t slot = create_slot(values);
      index_.emplace(std::move(key), slot);
      ++regular_series_;
      return slot;
    }
  }
  if (overflow_family_ != nullptr) {
    if (overflow_counter_ == nullptr) overflow_counter_ = &overflow_family_->with({std::string_view(name_)});
    overflow_counter_->inc();
  }
  if (strict) return kRefused;
  if (overflow_slot_ == kRefused) {
    // The overflow series is an ordinary entry, so with() on its label values finds it.
    const std::vector<std::string_view> overflow_values(label_names_.size(), kOverflowLabelValue);
    std::string key = key_of(overflow_values);
    if (auto it = index_.find(key); it != index_.end()) {
      overflow_slot_ = it->second;
    } else {
      overflow_slot_ = create_slot(overflow_values);
      index_.emplace(std::move(key), overflow_slot_);
    }
  }
  return overflow_slot_;
}

size_t FamilyBase::create_slot(std::span<const std::string_view> values) {
  Slot slot;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) slot.labels.push_back(',');
    slot.labels.append(label_names_[i]);
    slot.labels.append("=\"");
    append_escaped_label_value(slot.labels, values[i]);
    slot.labels.push_back('"');
  }
  slots_.push_back(std::move(slot));
  make_child();
  return slots_.size() - 1;
}

void FamilyBase::append_series_name(std::string& out, std::string_view suffix, const Slot& slot,
                                    std::string_view extra) const {
  out.append(name_);
  out.append(suffix);
  if (slot.labels.empty() && extra.empty()) return;
  out.push_back('{');
  out.append(slot.labels);
  if (!slot.labels.empty() && !extra.empty()) out.push_back(',');
  out.append(extra);
  out.push_back('}');
}

void FamilyBase::expose(std::string& out, unsigned parts) const {
  std::lock_guard lock(mu_);
  if (slots_.empty() || parts == 0) return;
  out.append("# HELP ");
  out.append(name_);
  out.push_back(' ');
  append_escaped_help(out, help_);
  out.append("\n# TYPE ");
  out.append(name_);
  out.push_back(' ');
  out.append(to_string(type_));
  out.push_back('\n');
  for (size_t i = 0; i < slots_.size(); ++i) append_series(out, i, parts);
}

unsigned FamilyBase::parts_named(std::span<const std::string> names) const {
  unsigned parts = 0;
  for (const std::string& n : names) {
    if (type_ != MetricType::kHistogram) {
      if (n == name_) return kAllParts;
      continue;
    }
    if (n.size() <= name_.size() || n.compare(0, name_.size(), name_) != 0) continue;
    const std::string_view suffix = std::string_view(n).substr(name_.size());
    if (suffix == "_bucket") parts |= kBuckets;
    if (suffix == "_sum") parts |= kSum;
    if (suffix == "_count") parts |= kCount;
  }
  return parts;
}

}  // namespace detail

template <>
void Family<Counter>::append_series(std::string& out, size_t slot, unsigned) const {
  const Slot& s = slots_[slot];
  append_series_name(out, {}, s);
  out.push_back(' ');
  append_double(out, s.callback ? s.callback() : children_[slot]->value());
  out.push_back('\n');
}

template <>
void Family<Gauge>::append_series(std::string& out, size_t slot, unsigned) const {
  const Slot& s = slots_[slot];
  append_series_name(out, {}, s);
  out.push_back(' ');
  append_double(out, s.callback ? s.callback() : children_[slot]->value());
  out.push_back('\n');
}

template <>
void Family<Histogram>::append_series(std::string& out, size_t slot, unsigned parts) const {
  const Slot& s = slots_[slot];
  const Histogram& h = *children_[slot];
  // Read the buckets once, so that the cumulative buckets and _count agree even while observations race.
  uint64_t cumulative = 0;
  for (size_t i = 0; i < le_labels_.size(); ++i) {
    cumulative += h.bucket_count(i);
    if ((parts & kBuckets) == 0) continue;
    append_series_name(out, "_bucket", s, le_labels_[i]);
    out.push_back(' ');
    append_double(out, static_cast<double>(cumulative));
    out.push_back('\n');
  }
  if ((parts & kSum) != 0) {
    append_series_name(out, "_sum", s);
    out.push_back(' ');
    append_double(out, h.sum());
    out.push_back('\n');
  }
  if ((parts & kCount) != 0) {
    append_series_name(out, "_count", s);
    out.push_back(' ');
    append_double(out, static_cast<double>(cumulative));
    out.push_back('\n');
  }
}

namespace {

Error invalid(std::string_view name, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, "metric " + std::string(name) + ": " + std::string(what));
}

// The text format cannot carry leading blanks (parsers skip them after the name) or a trailing CR
// (read as part of a CRLF line end), so they are dropped here and the help text round-trips.
std::string normalize_help(std::string help) {
  const size_t first = help.find_first_not_of(" \t");
  help.erase(0, first == std::string::npos ? help.size() : first);
  while (!help.empty() && help.back() == '\r') help.pop_back();
  return help;
}

std::vector<std::string> series_names_of(const std::string& name, MetricType type) {
  if (type == MetricType::kHistogram) return {name + "_bucket", name + "_sum", name + "_count"};
  return {name};
}

}  // namespace

Registry::Registry() {
  auto family = counter_family(
      std::string(kOverflowCounterName),
      "Label sets refused by a metric family whose label cardinality cap was reached.", {"family"});
  overflow_family_ = *family;  // cannot fail: the name and label are valid and the registry is empty
}

template <class T>
Result<Family<T>*> Registry::add_family(std::string name, std::string help, MetricType type,
                                        std::vector<std::string> label_names, std::vector<double> bounds,
                                        FamilyOptions options) {
  if (!is_valid_metric_name(name)) return invalid(name, "invalid metric name");
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& l = label_names[i];
    if (!is_valid_label_name(l)) return invalid(name, "invalid label name '" + l + "'");
    if (type == MetricType::kHistogram && l == "le")
      return invalid(name, "histograms reserve the label 'le'");
    if (std::find(label_names.begin(), label_names.begin() + static_cast<long>(i), l) !=
        label_names.begin() + static_cast<long>(i)) {
      return invalid(name, "duplicate label name '" + l + "'");
    }
  }
  if (options.max_series == 0) return invalid(name, "max_series must be at least 1");
  if (!bounds.empty() && bounds.back() == HUGE_VAL) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return invalid(name, "histogram bounds must be finite");
    if (i > 0 && !(bounds[i - 1] < bounds[i]))
      return invalid(name, "histogram bounds must increase strictly");
  }

  std::lock_guard lock(mu_);
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    auto* existing = dynamic_cast<Family<T>*>(it->second);
    if (existing == nullptr || existing->type() != type || existing->label_names() != label_names ||
        existing->bounds() != bounds) {
      return invalid(name, "already registered with another type, label names or buckets");
    }
    return existing;
  }
  auto names = series_names_of(name, type);
  for (const auto& n : names) {
    if (series_names_.count(n) != 0) return invalid(name, "series name '" + n + "' is already in use");
  }
  auto family = std::make_unique<Family<T>>(std::move(name), normalize_help(std::move(help)), type,
                                            std::move(label_names), options, std::move(bounds));
  family->overflow_family_ = overflow_family_;
  Family<T>* raw = family.get();
  for (auto& n : names) series_names_.insert(std::move(n));
  by_name_.emplace(raw->name(), raw);
  families_.push_back(std::move(family));
  return raw;
}

Result<CounterFamily*> Registry::counter_family(std::string name, std::string help,
                                                std::vector<std::string> label_names, FamilyOptions options) {
  return add_family<Counter>(std::move(name), std::move(help), MetricType::kCounter, std::move(label_names),
                             {}, options);
}

Result<GaugeFamily*> Registry::gauge_family(std::string name, std::string help,
                                            std::vector<std::string> label_names, FamilyOptions options) {
  return add_family<Gauge>(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names), {},
                           options);
}

Result<HistogramFamily*> Registry::histogram_family(std::string name, std::string help,
                                                    std::vector<std::string> label_names,
                                                    std::vector<double> bounds, FamilyOptions options) {
  return add_family<Histogram>(std::move(name), std::move(help), MetricType::kHistogram,
                               std::move(label_names), std::move(bounds), options);
}

Result<Counter*> Registry::counter(std::string name, std::string help) {
  auto family = counter_family(std::move(name), std::move(help), {});
  if (!family) return family.error();
  return &(*family)->with({});
}

Result<Gauge*> Registry::gauge(std::string name, std::string help) {
  auto family = gauge_family(std::move(name), std::move(help), {});
  if (!family) return family.error();
  return &(*family)->with({});
}

Result<Histogram*> Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  auto family = histogram_family(std::move(name), std::move(help), {}, std::move(bounds));
  if (!family) return family.error();
  return &(*family)->with({});
}

Result<void> Registry::gauge_callback(std::string name, std::string help, std::function<double()> fn) {
  auto family = gauge_family(std::move(name), std::move(help), {});
  if (!family) return family.error();
  return (*family)->with_callback({}, std::move(fn));
}

Result<void> Registry::counter_callback(std::string name, std::string help, std::function<double()> fn) {
  auto family = counter_family(std::move(name), std::move(help), {});
  if (!family) return family.error();
  return (*family)->with_callback({}, std::move(fn));
}

std::string Registry::expose() const {
  std::string out;
  expose_to(out);
  return out;
}

void Registry::expose_to(std::string& out) const {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->expose(out);
}

void Registry::expose_to(std::string& out, std::span<const std::string> names) const {
  if (names.empty()) return expose_to(out);
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->expose(out, f->parts_named(names));
}

}  // namespace llmd::metrics
