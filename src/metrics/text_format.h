#pragma once
// Pieces of the Prometheus text exposition format 0.0.4 shared by the exposer (registry.h) and the
// parser (parser.h): metric types, name rules, escaping and float spelling.

#include <cstdint>
#include <string>
#include <string_view>

namespace llmd::metrics {

// The Content-Type a /metrics handler must send with Registry::expose() output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType : uint8_t { kUntyped, kCounter, kGauge, kHistogram, kSummary };

// "counter", "gauge", "histogram", "summary", "untyped".
std::string_view to_string(MetricType type);
// Parses a TYPE token; false if it is not one of the five.
bool parse_metric_type(std::string_view token, MetricType& out);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*; names starting with "__" are reserved by Prometheus and rejected here.
bool is_valid_label_name(std::string_view name);

// Appends `v` as Prometheus spells it: "+Inf", "-Inf", "NaN", else the shortest decimal form that
// parses back to the same double (std::to_chars), e.g. "0.25", "1e+06", "-0".
void append_double(std::string& out, double v);
// Label values escape backslash, double quote and newline.
void append_escaped_label_value(std::string& out, std::string_view v);
// HELP text escapes backslash and newline only.
void append_escaped_help(std::string& out, std::string_view v);

}  // namespace llmd::metrics
