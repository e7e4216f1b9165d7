#include "loadgen/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace llmd::loadgen {

std::string_view to_string(RequestStatus status) {
  switch (status) {
    case RequestStatus::kOk:
      return "ok";
    case RequestStatus::kHttpError:
      return "http_error";
    case RequestStatus::kConnectFailed:
      return "connect_failed";
    case RequestStatus::kTimeout:
      return "timeout";
    case RequestStatus::kProtocol:
      return "protocol";
    case RequestStatus::kStreamError:
      return "stream_error";
    case RequestStatus::kIncomplete:
      return "incomplete";
    case RequestStatus::kCancelled:
      return "cancelled";
    case RequestStatus::kIo:
      return "io";
    case RequestStatus::kDropped:
      return "dropped";
  }
  return "unknown";
}

std::string RequestRecord::error_type() const {
  if (status == RequestStatus::kHttpError) return fmt::format("http_{}", http_status);
  return std::string(to_string(status));
}

RequestMetrics derive_metrics(const RequestRecord& r) {
  RequestMetrics m;
  m.e2e = to_seconds(r.end - r.start);
  m.schedule_lag = std::max(0.0, to_seconds(r.start - r.scheduled));
  if (r.output_tokens >= 1) m.ntpot = m.e2e / r.output_tokens;
  if (r.streamed && !r.token_times.empty()) {
    m.ttft = to_seconds(r.token_times.front() - r.start);
    if (r.output_tokens >= 2) m.tpot = (m.e2e - *m.ttft) / (r.output_tokens - 1);
  }
  return m;
}

void append_itl(const RequestRecord& r, std::vector<double>& out) {
  if (!r.streamed) return;
  for (size_t i = 1; i < r.token_times.size(); ++i)
    out.push_back(to_seconds(r.token_times[i] - r.token_times[i - 1]));
}

double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Stats compute_stats(std::vector<double>& values) {
  Stats s;
  s.count = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  double sq = 0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(sq / static_cast<double>(values.size()));  // population, like numpy.std
  s.min = values.front();
  s.max = values.back();
  s.p10 = percentile(values, 0.10);
  s.p25 = percentile(values, 0.25);
  s.p50 = percentile(values, 0.50);
  s.p75 = percentile(values, 0.75);
  s.p90 = percentile(values, 0.90);
  s.p95 = percentile(values, 0.95);
  s.p99 = percentile(values, 0.99);
  s.p999 = percentile(values, 0.999);
  return s;
}

bool meets_slo(const RequestMetrics& m, bool ok, const SloSpec& slo) {
  if (!ok) return false;
  if (slo.ttft_s && (!m.ttft || *m.ttft > *slo.ttft_s)) return false;
  if (slo.tpot_s && m.tpot && *m.tpot > *slo.tpot_s) return false;
  return true;
}

Summary summarize(std::span<const RequestRecord> records, const SloSpec& slo) {
  std::vector<const RequestRecord*> ptrs;
  ptrs.reserve(records.size());
  for (const auto& r : records) ptrs.push_back(&r);
  return summarize(std::span<const RequestRecord* const>(ptrs), slo);
}

Summary summarize(std::span<const RequestRecord* const> records, const SloSpec& slo) {
  Summary s;
  s.slo_set = slo.any();
  std::vector<double> ttft, tpot, itl, ntpot, e2e, in_len, out_len, lag;
  Nanos first = Nanos::max(), last = Nanos::min();
  uint64_t good_tokens = 0, usage_input = 0;
  for (const RequestRecord* rp : records) {
    const RequestRecord& r = *rp;
    ++s.total;
    if (r.status == RequestStatus::kDropped) {
      ++s.failed;
      ++s.errors[r.error_type()];
      continue;
    }
    first = std::min(first, r.start);
    last = std::max(last, r.end);
    const RequestMetrics m = derive_metrics(r);
    lag.push_back(m.schedule_lag);
    if (!r.ok()) {
      ++s.failed;
      ++s.errors[r.error_type()];
      continue;
    }
    ++s.succeeded;
    s.input_tokens += r.input_tokens;
    s.output_tokens += r.output_tokens;
    if (r.usage_reported) {
      s.cached_tokens += r.cached_tokens;
      usage_input += r.input_tokens;
    }
    in_len.push_back(r.input_tokens);
    out_len.push_back(r.output_tokens);
    e2e.push_back(m.e2e);
    if (m.ttft) ttft.push_back(*m.ttft);
    if (m.tpot) tpot.push_back(*m.tpot);
    if (m.ntpot) ntpot.push_back(*m.ntpot);
    append_itl(r, itl);
    if (s.slo_set && meets_slo(m, true, slo)) {
      ++s.good_requests;
      good_tokens += r.output_tokens;
    }
  }
  if (last > first) s.duration_s = to_seconds(last - first);
  if (s.duration_s > 0) {
    s.request_rate = static_cast<double>(s.succeeded) / s.duration_s;
    s.input_token_rate = static_cast<double>(s.input_tokens) / s.duration_s;
    s.output_token_rate = static_cast<double>(s.output_tokens) / s.duration_s;
    s.total_token_rate = s.input_token_rate + s.output_token_rate;
    if (s.slo_set) {
      s.goodput_rate = static_cast<double>(s.good_requests) / s.duration_s;
      s.goodput_token_rate = static_cast<double>(good_tokens) / s.duration_s;
    }
  }
  if (s.slo_set && s.total > 0) s.goodput_fraction = static_cast<double>(s.good_requests) / s.total;
  if (usage_input > 0) s.cache_hit_fraction = static_cast<double>(s.cached_tokens) / usage_input;
  s.ttft = compute_stats(ttft);
  s.tpot = compute_stats(tpot);
  s.itl = compute_stats(itl);
  s.ntpot = compute_stats(ntpot);
  s.e2e = compute_stats(e2e);
  s.input_len = compute_stats(in_len);
  s.output_len = compute_stats(out_len);
  s.schedule_lag = compute_stats(lag);
  if (!ttft.empty()) {
    s.ttft_quantiles.reserve(101);
    for (int i = 0; i <= 100; ++i) s.ttft_quantiles.push_back(percentile(ttft, i / 100.0));
  }
  return s;
}

}  // namespace llmd::loadgen
