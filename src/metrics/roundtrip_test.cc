// Property test: a randomly built registry, exposed and parsed back, yields exactly the names, labels
// and values (bit for bit) that were put in. The expected values come from a model the test keeps
// itself, not from the registry's readers.

#include <array>
#include <bit>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "metrics/parser.h"
#include "metrics/registry.h"

namespace llmd::metrics {
namespace {

struct ExpectedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value;
};

struct ModelSeries {
  std::vector<std::string> values;
  uint64_t whole = 0;  // counters
  double fraction = 0;
  double gauge = 0;
  std::vector<uint64_t> buckets;  // histograms, non-cumulative
  double sum = 0;
  Counter* counter = nullptr;
  Gauge* gauge_handle = nullptr;
  Histogram* histogram = nullptr;
};

struct ModelFamily {
  std::string name;
  std::string help;
  MetricType type;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::vector<ModelSeries> series;
};

std::string random_string(Rng& rng, size_t max_len) {
  static constexpr std::string_view kAlphabet = "ab Z09_:-{}=,\"\\\n\r\t#\xc3\xa9\xe2\x82\xac.";
  std::string s;
  const size_t n = rng.below(max_len + 1);
  for (size_t i = 0; i < n; ++i) s.push_back(kAlphabet[rng.below(kAlphabet.size())]);
  return s;
}

std::string random_identifier(Rng& rng, bool colons, size_t index) {
  static constexpr std::string_view kFirst = "abcxyzABC_";
  static constexpr std::string_view kRest = "abcxyz019_";
  std::string s(1, kFirst[rng.below(kFirst.size())]);
  if (colons && rng.below(3) == 0) s.push_back(':');
  const size_t n = rng.below(12);
  for (size_t i = 0; i < n; ++i) s.push_back(kRest[rng.below(kRest.size())]);
  s += "_" + std::to_string(index);            // unique
  if (s[0] == '_' && s[1] == '_') s[0] = 'u';  // "__" names are reserved
  return s;
}

double random_double(Rng& rng) {
  switch (rng.below(8)) {
    case 0:
      return std::nan("");
    case 1:
      return rng.below(2) ? HUGE_VAL : -HUGE_VAL;
    case 2:
      return rng.below(2) ? 0.0 : -0.0;
    case 3:
      return std::ldexp(rng.uniform(), -1070);  // subnormal
    case 4:
      return static_cast<double>(static_cast<int64_t>(rng())) / 1e3;
    default: {
      double d;
      do d = std::bit_cast<double>(rng());
      while (!std::isfinite(d));
      return d;
    }
  }
}

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

void run_seed(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  Registry registry;
  std::vector<ModelFamily> families(1 + rng.below(8));
  for (size_t f = 0; f < families.size(); ++f) {
    ModelFamily& fam = families[f];
    fam.name = random_identifier(rng, true, f);
    fam.help = random_string(rng, 20);
    if (rng.below(4) == 0) fam.help.push_back('\r');
    fam.type = std::array{MetricType::kCounter, MetricType::kGauge, MetricType::kHistogram}[rng.below(3)];
    const size_t n_labels = rng.below(4);
    for (size_t l = 0; l < n_labels; ++l) fam.label_names.push_back(random_identifier(rng, false, l));
    if (fam.type == MetricType::kHistogram) {
      double b = -50.0 + rng.uniform() * 10;
      for (size_t i = rng.below(12); i > 0; --i) {
        b += 0.001 + rng.uniform() * rng.uniform() * 100;
        fam.bounds.push_back(b);
      }
    }
    switch (fam.type) {
      case MetricType::kCounter: {
        auto r = registry.counter_family(fam.name, fam.help, fam.label_names);
        ASSERT_TRUE(r) << r.error().message;
        break;
      }
      case MetricType::kGauge: {
        auto r = registry.gauge_family(fam.name, fam.help, fam.label_names);
        ASSERT_TRUE(r) << r.error().message;
        break;
      }
      default: {
        auto r = registry.histogram_family(fam.name, fam.help, fam.label_names, fam.bounds);
        ASSERT_TRUE(r) << r.error().message;
        break;
      }
    }
  }

  // Random operations on random series; label sets repeat often so series get several updates.
  for (int op = 0; op < 200; ++op) {
    ModelFamily& fam = families[rng.below(families.size())];
    std::vector<std::string> values;
    for (size_t l = 0; l < fam.label_names.size(); ++l)
      values.push_back(rng.below(2) ? "" : random_string(rng, 6));
    if (rng.below(2) && !fam.series.empty()) values = fam.series[rng.below(fam.series.size())].values;
    std::vector<std::string_view> views(values.begin(), values.end());
    ModelSeries* s = nullptr;
    for (auto& existing : fam.series) {
      if (existing.values == values) s = &existing;
    }
    if (s == nullptr) {
      fam.series.push_back(ModelSeries{values});
      s = &fam.series.back();
      s->buckets.assign(fam.bounds.size() + 1, 0);
    }
    switch (fam.type) {
      case MetricType::kCounter: {
        auto* family = *registry.counter_family(fam.name, fam.help, fam.label_names);
        s->counter = &family->with(views);
        if (rng.below(2)) {
          const uint64_t n = rng.below(1'000'000);
          s->whole += n;
          s->counter->inc(n);
        } else {
          const double d = rng.uniform() * std::pow(10.0, static_cast<double>(rng.below(20)) - 10);
          if (d > 0) s->fraction += d;
          s->counter->add(d);
        }
        break;
      }
      case MetricType::kGauge: {
        auto* family = *registry.gauge_family(fam.name, fam.help, fam.label_names);
        s->gauge_handle = &family->with(views);
        const double d = random_double(rng);
        switch (rng.below(3)) {
          case 0:
            s->gauge = d;
            s->gauge_handle->set(d);
            break;
          case 1:
            s->gauge += d;
            s->gauge_handle->inc(d);
            break;
          default:
            s->gauge -= d;
            s->gauge_handle->dec(d);
            break;
        }
        break;
      }
      default: {
        auto* family = *registry.histogram_family(fam.name, fam.help, fam.label_names, fam.bounds);
        s->histogram = &family->with(views);
        const double v = rng.below(20) == 0 ? random_double(rng) : -60 + rng.uniform() * 200;
        size_t i = 0;
        while (i < fam.bounds.size() && !(v <= fam.bounds[i])) ++i;
        ++s->buckets[i];
        s->sum += v;
        s->histogram->observe(v);
        break;
      }
    }
  }

  std::vector<ExpectedSample> expected;
  for (const auto& fam : families) {
    for (const auto& s : fam.series) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (size_t l = 0; l < fam.label_names.size(); ++l)
        labels.emplace_back(fam.label_names[l], s.values[l]);
      if (fam.type == MetricType::kCounter) {
        expected.push_back({fam.name, labels, static_cast<double>(s.whole) + s.fraction});
      } else if (fam.type == MetricType::kGauge) {
        expected.push_back({fam.name, labels, s.gauge});
      } else {
        uint64_t cumulative = 0;
        for (size_t b = 0; b < s.buckets.size(); ++b) {
          cumulative += s.buckets[b];
          auto with_le = labels;
          std::string le;
          if (b < fam.bounds.size()) {
            append_double(le, fam.bounds[b]);
          } else {
            le = "+Inf";
          }
          with_le.emplace_back("le", le);
          expected.push_back({fam.name + "_bucket", with_le, static_cast<double>(cumulative)});
        }
        expected.push_back({fam.name + "_sum", labels, s.sum});
        expected.push_back({fam.name + "_count", labels, static_cast<double>(cumulative)});
      }
    }
  }

  const std::string text = registry.expose();
  Page page;
  auto parsed = parse(text, page);
  ASSERT_TRUE(parsed) << parsed.error().message << "\n" << text;
  ASSERT_EQ(page.samples().size(), expected.size()) << text;
  for (size_t i = 0; i < expected.size(); ++i) {
    const Sample& got = page.samples()[i];
    const ExpectedSample& want = expected[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_TRUE(same_double(got.value, want.value)) << want.name << ": " << got.value << " vs " << want.value;
    ASSERT_EQ(page.labels(got).size(), want.labels.size());
    for (size_t l = 0; l < want.labels.size(); ++l) {
      EXPECT_EQ(page.labels(got)[l].name, want.labels[l].first);
      EXPECT_EQ(page.labels(got)[l].value, want.labels[l].second);
    }
  }
  // Families that received no series are not exposed; the others keep their help text and type.
  size_t exposed = 0;
  for (const auto& fam : families) {
    if (fam.series.empty()) continue;
    ++exposed;
    const FamilyInfo* info = page.family(fam.name);
    ASSERT_NE(info, nullptr) << fam.name;
    std::string_view help = fam.help;  // as the registry normalizes it
    while (!help.empty() && (help.front() == ' ' || help.front() == '\t')) help.remove_prefix(1);
    while (!help.empty() && help.back() == '\r') help.remove_suffix(1);
    EXPECT_EQ(info->help, help);
    EXPECT_EQ(info->type, fam.type);
  }
  EXPECT_EQ(page.families().size(), exposed);
}

TEST(RoundTripTest, ExposedRegistriesParseBackToTheSameValues) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    run_seed(seed);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace llmd::metrics
