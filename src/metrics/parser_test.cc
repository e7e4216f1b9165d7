#include "metrics/parser.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace llmd::metrics {
namespace {

std::string read_fixture() {
  std::ifstream f(std::string(LLMD_METRICS_TESTDATA_DIR) + "/vllm_metrics.txt", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Page parse_ok(std::string_view text, ParseOptions options = {}) {
  Page page;
  auto r = parse(text, page, options);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return page;
}

std::string parse_error(std::string_view text) {
  Page page;
  auto r = parse(text, page);
  if (r) return "parsed";
  EXPECT_EQ(r.error().code, ErrorCode::kProtocol);
  return r.error().message;
}

TEST(ParserTest, ParsesNameLabelsValueAndTimestamp) {
  const std::string text = "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n";
  Page page = parse_ok(text);
  ASSERT_EQ(page.samples().size(), 1u);
  const Sample& s = page.samples()[0];
  EXPECT_EQ(s.name, "http_requests_total");
  EXPECT_EQ(s.value, 1027.0);
  EXPECT_TRUE(s.has_timestamp);
  EXPECT_EQ(s.timestamp_ms, 1395066363000);
  EXPECT_EQ(s.line, 1u);
  ASSERT_EQ(page.labels(s).size(), 2u);
  EXPECT_EQ(page.labels(s)[0].name, "method");
  EXPECT_EQ(page.labels(s)[0].value, "post");
  EXPECT_EQ(page.label(s, "code"), "200");
  EXPECT_EQ(page.label(s, "missing"), std::nullopt);
  // Unescaped values are views into the input, not copies.
  EXPECT_GE(page.labels(s)[0].value.data(), text.data());
  EXPECT_LT(page.labels(s)[0].value.data(), text.data() + text.size());
}

TEST(ParserTest, UnescapesLabelValues) {
  Page page = parse_ok(
      R"(msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9)");
  ASSERT_EQ(page.samples().size(), 1u);
  const Sample& s = page.samples()[0];
  EXPECT_EQ(page.label(s, "path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(page.label(s, "error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(s.value, 1.458255915e9);
  EXPECT_FALSE(s.has_timestamp);
}

TEST(ParserTest, ParsesSpecialAndExponentValues) {
  Page page = parse_ok(
      "a +Inf\nb -Inf\nc NaN\nd inf\ne nan\nf 1e-3\ng -2.5E+2\nh +7\ni 0x\n"
      "j .5\nk 1.754313001402917e+09\n",
      ParseOptions{.on_error = OnError::kSkipLine});
  ASSERT_EQ(page.samples().size(), 10u);
  EXPECT_EQ(page.skipped_lines(), 1u);
  EXPECT_EQ(page.first_error(), "line 9: invalid value");
  auto v = [&](std::string_view n) { return page.find(n)->value; };
  EXPECT_EQ(v("a"), HUGE_VAL);
  EXPECT_EQ(v("b"), -HUGE_VAL);
  EXPECT_TRUE(std::isnan(v("c")));
  EXPECT_EQ(v("d"), HUGE_VAL);
  EXPECT_TRUE(std::isnan(v("e")));
  EXPECT_EQ(v("f"), 1e-3);
  EXPECT_EQ(v("g"), -250.0);
  EXPECT_EQ(v("h"), 7.0);
  EXPECT_EQ(v("j"), 0.5);
  EXPECT_EQ(v("k"), 1754313001.402917);
}

TEST(ParserTest, RejectsMalformedValuesAndTimestamps) {
  EXPECT_EQ(parse_error("a ++1\n"), "line 1: invalid value");
  EXPECT_EQ(parse_error("a +-1\n"), "line 1: invalid value");
  EXPECT_EQ(parse_error("a 1e400\n"), "line 1: invalid value");
  EXPECT_EQ(parse_error("a 1.0.0\n"), "line 1: invalid value");
  EXPECT_EQ(parse_error("a\n"), "line 1: missing value");
  EXPECT_EQ(parse_error("a{} \n"), "line 1: missing value");
  EXPECT_EQ(parse_error("a 1 12x\n"), "line 1: invalid timestamp");
  EXPECT_EQ(parse_error("a 1 1.5\n"), "line 1: invalid timestamp");
  EXPECT_EQ(parse_error("a 1 99999999999999999999\n"), "line 1: invalid timestamp");
  EXPECT_EQ(parse_error("a 1 2 3\n"), "line 1: unexpected text after timestamp");
}

TEST(ParserTest, AcceptsNegativeAndSignedTimestamps) {
  Page page = parse_ok("a 1 -5\nb 2 +6\n");
  ASSERT_EQ(page.samples().size(), 2u);
  EXPECT_EQ(page.samples()[0].timestamp_ms, -5);
  EXPECT_EQ(page.samples()[1].timestamp_ms, 6);
}

TEST(ParserTest, HandlesCommentsBlankLinesCrlfAndNoTrailingNewline) {
  Page page = parse_ok(
      "# a free comment\r\n"
      "\r\n"
      "   \t\n"
      "#\n"
      "# HELP up Whether the target is up.\r\n"
      "# TYPE up gauge\r\n"
      "up{job=\"x\"} 1\r\n"
      "  \tspaced \t{ a = \"1\" , b=\"2\", }\t 3 \t 4 \r\n"
      "empty{} 5\n"
      "last 6");
  ASSERT_EQ(page.samples().size(), 4u);
  EXPECT_EQ(page.lines(), 10u);
  EXPECT_EQ(page.samples()[0].name, "up");
  EXPECT_EQ(page.label(page.samples()[0], "job"), "x");
  const Sample& spaced = page.samples()[1];
  EXPECT_EQ(spaced.name, "spaced");
  EXPECT_EQ(page.label(spaced, "a"), "1");
  EXPECT_EQ(page.label(spaced, "b"), "2");
  EXPECT_EQ(spaced.value, 3.0);
  EXPECT_EQ(spaced.timestamp_ms, 4);
  EXPECT_EQ(spaced.line, 8u);
  EXPECT_EQ(page.samples()[2].label_count, 0u);
  EXPECT_EQ(page.samples()[3].value, 6.0);
  EXPECT_EQ(page.samples()[3].line, 10u);
  ASSERT_EQ(page.families().size(), 1u);
  EXPECT_EQ(page.families()[0].name, "up");
  EXPECT_EQ(page.families()[0].help, "Whether the target is up.");
  EXPECT_EQ(page.families()[0].type, MetricType::kGauge);
}

TEST(ParserTest, ParsesHelpEscapesAndTypes) {
  Page page = parse_ok(
      "# HELP a Line\\none \\\\ \\t kept\n"
      "# TYPE a counter\n"
      "#TYPE b histogram\n"
      "# HELP c\n"
      "# TYPE d summary\n"
      "# TYPE e untyped\n");
  ASSERT_EQ(page.families().size(), 5u);
  EXPECT_EQ(page.family("a")->help, "Line\none \\ \\t kept");
  EXPECT_EQ(page.family("a")->type, MetricType::kCounter);
  EXPECT_TRUE(page.family("a")->has_help);
  EXPECT_EQ(page.family("b")->type, MetricType::kHistogram);
  EXPECT_FALSE(page.family("b")->has_help);
  EXPECT_TRUE(page.family("c")->has_help);
  EXPECT_EQ(page.family("c")->help, "");
  EXPECT_FALSE(page.family("c")->has_type);
  EXPECT_EQ(page.family("d")->type, MetricType::kSummary);
  EXPECT_EQ(page.family("e")->type, MetricType::kUntyped);
}

TEST(ParserTest, ReportsMalformedLinesWithLineNumbers) {
  EXPECT_EQ(parse_error("ok 1\n\n{a=\"b\"} 1\n"), "line 3: invalid metric name");
  EXPECT_EQ(parse_error("a{b=\"c\" 1\n"), "line 1: expected ',' or '}' after label value");
  EXPECT_EQ(parse_error("a{b=\"c\n"), "line 1: unterminated label value");
  EXPECT_EQ(parse_error("a{b=\"c\\"), "line 1: unterminated label value");
  EXPECT_EQ(parse_error("a{b=\"c\\q\"} 1\n"), "line 1: invalid escape in label value");
  EXPECT_EQ(parse_error("a{b=c} 1\n"), "line 1: expected '\"' to open label value");
  EXPECT_EQ(parse_error("a{b} 1\n"), "line 1: expected '=' after label name");
  EXPECT_EQ(parse_error("a{1b=\"c\"} 1\n"), "line 1: invalid label name");
  EXPECT_EQ(parse_error("a{b=\"1\",b=\"2\"} 1\n"), "line 1: duplicate label name");
  EXPECT_EQ(parse_error("a{b=\"1\""), "line 1: unterminated label set");
  EXPECT_EQ(parse_error("# TYPE a gaugeish\n"), "line 1: unknown metric type in TYPE line");
  EXPECT_EQ(parse_error("# TYPE a gauge extra\n"), "line 1: unexpected text after TYPE");
  EXPECT_EQ(parse_error("# HELP\n"), "line 1: invalid metric name in HELP or TYPE line");
  EXPECT_EQ(parse_error("# TYPE a-b gauge\n"), "line 1: invalid metric name in HELP or TYPE line");
}

TEST(ParserTest, SkipModeDropsOnlyBadLinesAndRollsBackTheirLabels) {
  Page page;
  auto r = parse("good{a=\"1\"} 1\nbad{a=\"x\\\\y\",b=\"2\"} oops\nalso_good{c=\"3\"} 2\nworse\n", page,
                 ParseOptions{.on_error = OnError::kSkipLine});
  ASSERT_TRUE(r);
  ASSERT_EQ(page.samples().size(), 2u);
  EXPECT_EQ(page.skipped_lines(), 2u);
  EXPECT_EQ(page.first_error(), "line 2: invalid value");
  EXPECT_EQ(page.labels().size(), 2u);
  EXPECT_EQ(page.label(page.samples()[1], "c"), "3");
}

TEST(ParserTest, ToleratesArbitraryBytesWithoutCrashing) {
  std::string junk;
  for (int i = 0; i < 256; ++i) junk.push_back(static_cast<char>(i));
  junk += "\n{\"}\\\n# HELP x \\\na{b=\"\\\"} 1";
  Page page;
  EXPECT_FALSE(parse(junk, page));
  ASSERT_TRUE(parse(junk, page, ParseOptions{.on_error = OnError::kSkipLine}));
  EXPECT_GT(page.skipped_lines(), 0u);
  EXPECT_TRUE(parse("", page));
  EXPECT_EQ(page.samples().size(), 0u);
  EXPECT_EQ(page.lines(), 0u);
}

TEST(ParserTest, NamesSharingPrefixesWithThePreviousLineAreReadWhole) {
  Page page = parse_ok("abc 1\nabcd 2\nabc{x=\"1\"} 3\nab 4\nabc:d 5\nabc\t6\nab-c 7\n",
                       ParseOptions{.on_error = OnError::kSkipLine});
  ASSERT_EQ(page.samples().size(), 6u);
  EXPECT_EQ(page.samples()[0].name, "abc");
  EXPECT_EQ(page.samples()[1].name, "abcd");
  EXPECT_EQ(page.samples()[2].name, "abc");
  EXPECT_EQ(page.samples()[3].name, "ab");
  EXPECT_EQ(page.samples()[4].name, "abc:d");
  EXPECT_EQ(page.samples()[5].name, "abc");
  EXPECT_EQ(page.samples()[5].value, 6.0);
  EXPECT_EQ(page.first_error(), "line 7: invalid value");
}

TEST(ParserTest, IntegerFastPathMatchesGeneralParsing) {
  Page page = parse_ok(
      "a 0\nb -0\nc 123456789012345\nd 1234567890123456789\ne 12.000\nf 12.5\ng -7.0\nh 007\ni 1.\n");
  auto v = [&](std::string_view n) { return page.find(n)->value; };
  EXPECT_EQ(v("a"), 0.0);
  EXPECT_TRUE(std::signbit(v("b")));
  EXPECT_EQ(v("c"), 123456789012345.0);
  EXPECT_EQ(v("d"), 1234567890123456789.0);
  EXPECT_EQ(v("e"), 12.0);
  EXPECT_EQ(v("f"), 12.5);
  EXPECT_EQ(v("g"), -7.0);
  EXPECT_EQ(v("h"), 7.0);
  EXPECT_EQ(v("i"), 1.0);
  EXPECT_EQ(parse_error("a -\n"), "line 1: invalid value");
  EXPECT_EQ(parse_error("a 1.0x\n"), "line 1: invalid value");
}

TEST(ParserTest, ParsesVllmFixture) {
  const std::string text = read_fixture();
  ASSERT_GT(text.size(), 10'000u);
  Page page = parse_ok(text);
  EXPECT_EQ(page.samples().size(), 341u);
  EXPECT_EQ(page.families().size(), 58u);
  EXPECT_EQ(page.skipped_lines(), 0u);

  const Sample* waiting = page.find("vllm:num_requests_waiting");
  ASSERT_NE(waiting, nullptr);
  EXPECT_EQ(waiting->value, 4.0);
  EXPECT_EQ(page.label(*waiting, "model_name"), "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(page.label(*waiting, "engine"), "0");
  EXPECT_EQ(page.find("vllm:kv_cache_usage_perc")->value, 0.6271739130434783);
  EXPECT_EQ(page.find("vllm:prefix_cache_hits_total")->value, 30117232.0);
  const Sample* info = page.find("vllm:cache_config_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(page.label(*info, "block_size"), "16");
  EXPECT_EQ(page.label(*info, "num_gpu_blocks"), "27865");
  EXPECT_EQ(page.labels(*info).size(), 18u);
  EXPECT_EQ(page.family("vllm:time_to_first_token_seconds")->type, MetricType::kHistogram);
  EXPECT_EQ(page.family("http_request_size_bytes")->type, MetricType::kSummary);

  int ttft_buckets = 0;
  double last = -1;
  for (const Sample& s : page.samples()) {
    if (s.name != "vllm:time_to_first_token_seconds_bucket") continue;
    ++ttft_buckets;
    EXPECT_GE(s.value, last);  // cumulative
    last = s.value;
  }
  EXPECT_EQ(ttft_buckets, 23);
  EXPECT_EQ(page.label(*page.find("vllm:time_to_first_token_seconds_bucket"), "le"), "0.001");
  EXPECT_EQ(last, page.find("vllm:time_to_first_token_seconds_count")->value);
}

TEST(ParserTest, FilterKeepsOnlyWantedMetrics) {
  const std::string text = read_fixture();
  ScrapeFilter filter{"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:cache_config_info"};
  filter.add_family("vllm:time_to_first_token_seconds");
  Page page = parse_ok(text, ParseOptions{.filter = &filter});
  EXPECT_EQ(page.samples().size(), 3u + 25u);
  EXPECT_EQ(page.find("vllm:num_requests_waiting")->value, 4.0);
  EXPECT_EQ(page.label(*page.find("vllm:cache_config_info"), "num_gpu_blocks"), "27865");
  EXPECT_EQ(page.find("vllm:num_requests_running"), nullptr);
  EXPECT_EQ(page.find("vllm:time_to_first_token_seconds_created"), nullptr);
  EXPECT_NE(page.find("vllm:time_to_first_token_seconds_sum"), nullptr);
  ASSERT_EQ(page.families().size(), 4u);
  EXPECT_EQ(page.family("vllm:kv_cache_usage_perc")->type, MetricType::kGauge);
  EXPECT_EQ(page.family("vllm:time_to_first_token_seconds")->type, MetricType::kHistogram);
}

TEST(ParserTest, FilterMatchesLongNamesAndRejectsSameLengthOthers) {
  const std::string long_name(300, 'x');
  ScrapeFilter filter;
  filter.add(long_name);
  filter.add("abc");
  EXPECT_TRUE(filter.wants(long_name));
  EXPECT_TRUE(filter.wants("abc"));
  EXPECT_FALSE(filter.wants("abd"));
  EXPECT_FALSE(filter.wants(std::string(301, 'x')));
  EXPECT_FALSE(filter.wants("ab"));
}

TEST(ParserTest, PageReuseGivesSameResultAndKeepsEscapedViewsValid) {
  const std::string first = "a{v=\"x\\\"y\"} 1\n# HELP a h\\\\elp\n";
  const std::string second = read_fixture();
  Page page;
  ASSERT_TRUE(parse(first, page));
  EXPECT_EQ(page.label(page.samples()[0], "v"), "x\"y");
  EXPECT_EQ(page.family("a")->help, "h\\elp");
  ASSERT_TRUE(parse(second, page));
  const size_t n = page.samples().size();
  ASSERT_TRUE(parse(first, page));
  EXPECT_EQ(page.samples().size(), 1u);
  EXPECT_EQ(page.label(page.samples()[0], "v"), "x\"y");
  ASSERT_TRUE(parse(second, page));
  EXPECT_EQ(page.samples().size(), n);
}

}  // namespace
}  // namespace llmd::metrics
