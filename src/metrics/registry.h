#pragma once
// Counters, gauges and fixed-bucket histograms with labels, grouped in families that a Registry owns
// and exposes in the Prometheus text format 0.0.4 (text_format.h).
//
// Usage: register a family at start-up, resolve the label sets you need once with `with()` (which
// may lock and allocate), keep the returned reference, and update it on hot paths: every update is
// lock-free (relaxed atomics) and never allocates. Handles stay valid as long as the Registry.
//
// Why one shared atomic per series rather than per-thread shards merged at exposition: shards
// multiply memory by the thread count for every series (families may hold 10,000 of them), need
// thread registration, and buy little here, where updates happen per request or per token batch,
// not per byte. Each series sits on its own cache line (alignas(64)), so threads that update
// different series never share a line.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "metrics/text_format.h"

namespace llmd::metrics {

inline constexpr size_t kDefaultMaxSeries = 10'000;
// Every label of the series that absorbs label sets beyond a family's cap carries this value.
inline constexpr std::string_view kOverflowLabelValue = "__overflow__";
// Counter, labelled {family}, of label sets that a family refused because its cap was reached.
inline constexpr std::string_view kOverflowCounterName = "llmd_metrics_cardinality_overflow_total";

struct FamilyOptions {
  // Distinct label sets the family accepts. Beyond it, new label sets share one overflow series
  // (all values kOverflowLabelValue) and each refusal is counted in kOverflowCounterName.
  size_t max_series = kDefaultMaxSeries;
};

// A monotonic counter. Whole increments (requests, tokens: the common case) are one relaxed fetch_add
// on an integer and stay exact past 2^53; fractional amounts (seconds) accumulate separately in a
// double updated by a compare-exchange loop. The exposed value is the sum of both.
class alignas(64) Counter {
 public:
  void inc() noexcept { whole_.fetch_add(1, std::memory_order_relaxed); }
  void inc(uint64_t n) noexcept { whole_.fetch_add(n, std::memory_order_relaxed); }
  // Adds a non-negative amount. Negative and NaN amounts are ignored: a counter never goes down.
  void add(double v) noexcept;
  double value() const noexcept;

 private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0.0};
};

class alignas(64) Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) noexcept { v_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) noexcept { v_.fetch_sub(v, std::memory_order_relaxed); }
  // Sets the gauge to the clock's wall time in seconds since the Unix epoch (as vLLM's
  // lora_requests_info does).
  void set_to_current_time(const Clock& clock) noexcept { set(to_seconds(clock.wall_now())); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// Fixed upper bounds chosen at registration; an observation v lands in the first bucket whose bound
// is >= v, or in the implicit +Inf bucket (NaN goes there too). Buckets are stored non-cumulative and
// the count is their sum, so an exposition's _count always equals its +Inf bucket.
class alignas(64) Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double v) noexcept;
  std::span<const double> bounds() const noexcept { return bounds_; }
  // Observations in bucket i alone (not cumulative); i == bounds().size() is the +Inf bucket.
  uint64_t bucket_count(size_t i) const noexcept { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const noexcept;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::span<const double> bounds_;  // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

class Registry;
template <class T>
class Family;

namespace detail {

// The part of a family that does not depend on the series type: identity, label bookkeeping, the cap.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
             FamilyOptions options);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  size_t max_series() const { return options_.max_series; }
  // Series currently held, the overflow series included.
  size_t size() const;
  // Which samples of each series to append: a histogram's _bucket, _sum and _count lines can be
  // chosen separately (Registry::expose_to with names); counters and gauges have one part.
  static constexpr unsigned kBuckets = 1, kSum = 2, kCount = 4, kAllParts = 7;
  // Appends HELP, TYPE and every series (only `parts` of each); nothing if the family holds no
  // series yet or `parts` is 0.
  void expose(std::string& out, unsigned parts = kAllParts) const;
  // The parts whose sample names (`name`, or `name_bucket`, `name_sum`, `name_count`) are listed.
  unsigned parts_named(std::span<const std::string> names) const;

 protected:
  struct Slot {
    std::string labels;                // rendered and escaped: `a="x",b="y"`; empty without labels
    std::function<double()> callback;  // counters and gauges: evaluated at exposition instead
  };
  static constexpr size_t kRefused = static_cast<size_t>(-1);

  // Finds or creates the slot of `values` (creating calls make_child()) and returns its index; past
  // the cap, or on a wrong number of values, returns the overflow slot and counts the refusal.
  // `strict` returns kRefused instead of the overflow slot. Caller holds mu_.
  size_t slot_for(std::span<const std::string_view> values, bool strict);
  virtual void make_child() = 0;
  virtual void append_series(std::string& out, size_t slot, unsigned parts) const = 0;
  // Appends `name{labels}` (with `extra` appended to the labels when not empty).
  void append_series_name(std::string& out, std::string_view suffix, const Slot& slot,
                          std::string_view extra = {}) const;

  mutable std::mutex mu_;
  std::vector<Slot> slots_;

 private:
  friend class ::llmd::metrics::Registry;
  size_t create_slot(std::span<const std::string_view> values);

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  FamilyOptions options_;
  std::unordered_map<std::string, size_t> index_;  // key: length-prefixed label values
  size_t overflow_slot_ = kRefused;
  size_t regular_series_ = 0;  // excludes the overflow slot
  Counter* overflow_counter_ = nullptr;
  Family<Counter>* overflow_family_ = nullptr;  // the registry's overflow family; null for itself
};

}  // namespace detail

// A family of series of one type (Counter, Gauge or Histogram) that share a name and label names.
template <class T>
class Family final : public detail::FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         FamilyOptions options, std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names), options),
        bounds_(std::move(bounds)) {
    if constexpr (std::is_same_v<T, Histogram>) {
      for (double b : bounds_) {
        std::string le = "le=\"";
        append_double(le, b);
        le.push_back('"');
        le_labels_.push_back(std::move(le));
      }
      le_labels_.emplace_back("le=\"+Inf\"");
    }
  }

  // The series for these label values, in label_names() order. Takes a lock and may allocate: call it
  // at setup and keep the reference. Past the cap, or with the wrong number of values, returns the
  // family's overflow series (and counts it in kOverflowCounterName).
  T& with(std::span<const std::string_view> values) {
    std::lock_guard lock(mu_);
    return *children_[slot_for(values, false)];
  }
  T& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }

  // Makes the series for `values` report fn() at exposition time instead of its stored value. `fn`
  // runs on the exposing thread with the family locked, so it must be thread-safe and must not call
  // into the registry. Fails (and counts an overflow) if the cap is reached or the arity is wrong.
  Result<void> with_callback(std::span<const std::string_view> values,
                             std::function<double()> fn) requires(!std::is_same_v<T, Histogram>) {
    std::lock_guard lock(mu_);
    const size_t slot = slot_for(values, true);
    if (slot == kRefused) {
      return make_error(ErrorCode::kResourceExhausted,
                        "metric family " + name() + ": label cardinality cap or label count mismatch");
    }
    slots_[slot].callback = std::move(fn);
    return {};
  }
  Result<void> with_callback(std::initializer_list<std::string_view> values,
                             std::function<double()> fn) requires(!std::is_same_v<T, Histogram>) {
    return with_callback(std::span<const std::string_view>(values.begin(), values.size()), std::move(fn));
  }

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  void make_child() override {
    if constexpr (std::is_same_v<T, Histogram>) {
      children_.push_back(std::make_unique<Histogram>(bounds_));
    } else {
      children_.push_back(std::make_unique<T>());
    }
  }
  void append_series(std::string& out, size_t slot, unsigned parts) const override;

  std::vector<double> bounds_;          // histograms only; children point into it
  std::vector<std::string> le_labels_;  // histograms only: `le="<bound>"`, rendered once
  std::vector<std::unique_ptr<T>> children_;
};

template <>
void Family<Counter>::append_series(std::string& out, size_t slot, unsigned parts) const;
template <>
void Family<Gauge>::append_series(std::string& out, size_t slot, unsigned parts) const;
template <>
void Family<Histogram>::append_series(std::string& out, size_t slot, unsigned parts) const;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns metric families and renders them. Registration and exposition lock; series updates do not.
// Registering a name again with the same type, label names and bounds returns the existing family.
// Help texts lose leading blanks and trailing carriage returns, which the text format cannot carry.
class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Result<CounterFamily*> counter_family(std::string name, std::string help,
                                        std::vector<std::string> label_names, FamilyOptions options = {});
  Result<GaugeFamily*> gauge_family(std::string name, std::string help, std::vector<std::string> label_names,
                                    FamilyOptions options = {});
  // `bounds`: finite, strictly increasing upper bounds; a trailing +Inf is accepted and dropped.
  Result<HistogramFamily*> histogram_family(std::string name, std::string help,
                                            std::vector<std::string> label_names, std::vector<double> bounds,
                                            FamilyOptions options = {});

  // Unlabelled shorthands: the family's single series.
  Result<Counter*> counter(std::string name, std::string help);
  Result<Gauge*> gauge(std::string name, std::string help);
  Result<Histogram*> histogram(std::string name, std::string help, std::vector<double> bounds);
  // An unlabelled gauge whose value is fn() at exposition time (see Family::with_callback).
  Result<void> gauge_callback(std::string name, std::string help, std::function<double()> fn);
  Result<void> counter_callback(std::string name, std::string help, std::function<double()> fn);

  // The text exposition (format 0.0.4) of every family holding series, in registration order.
  std::string expose() const;
  // The same, appended to `out` (lets a caller reuse one buffer across scrapes).
  void expose_to(std::string& out) const;
  // Only the samples whose names are listed, as Prometheus clients answer `/metrics?name[]=...`: a
  // family appears when any of its sample names is listed, with those samples alone. No names (no
  // `name[]` in the query) means everything.
  void expose_to(std::string& out, std::span<const std::string> names) const;

 private:
  template <class T>
  Result<Family<T>*> add_family(std::string name, std::string help, MetricType type,
                                std::vector<std::string> label_names, std::vector<double> bounds,
                                FamilyOptions options);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<detail::FamilyBase>> families_;
  std::unordered_map<std::string, detail::FamilyBase*> by_name_;
  std::unordered_set<std::string> series_names_;  // every sample name the families emit
  CounterFamily* overflow_family_ = nullptr;
};

}  // namespace llmd::metrics
