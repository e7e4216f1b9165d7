#include "json/json.h"

#include <string>

#include <boost/json/monotonic_resource.hpp>

#include <gtest/gtest.h>

namespace llmd::json {
namespace {

boost::json::value must_parse(std::string_view text) {
  auto r = parse(text);
  EXPECT_TRUE(r.has_value()) << (r.has_error() ? r.error().message : "");
  return r.has_value() ? *r : boost::json::value();
}

TEST(JsonParse, ParsesValidDocument) {
  auto v = must_parse(R"({"model":"m","max_tokens":16,"stream":true,"messages":[{"role":"user"}]})");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("model").as_string(), "m");
  EXPECT_EQ(v.at("max_tokens").as_int64(), 16);
  EXPECT_EQ(v.at("messages").as_array().size(), 1u);
}

TEST(JsonParse, SyntaxErrorNamesByteOffset) {
  auto r = parse(R"({"model": "m",, "x": 1})");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message.rfind("invalid JSON at byte 14: ", 0), 0u) << r.error().message;
}

TEST(JsonParse, TruncatedInputIsIncomplete) {
  auto r = parse(R"({"model": "m")");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message, "invalid JSON at byte 13: unexpected end of input");
}

TEST(JsonParse, TrailingDataRejected) {
  auto r = parse(R"({"a":1} {"b":2})");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message, "invalid JSON at byte 8: unexpected data after the JSON value");
  // Trailing whitespace is fine.
  EXPECT_TRUE(parse("{\"a\":1}  \n").has_value());
}

TEST(JsonParse, EmptyInputRejected) {
  auto r = parse("");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(JsonParse, StrictNoCommentsNoTrailingCommasNoBadUtf8) {
  EXPECT_TRUE(parse("[1,2,]").has_error());
  EXPECT_TRUE(parse("/* c */ 1").has_error());
  EXPECT_TRUE(parse("\"\xff\"").has_error());
}

TEST(JsonParse, NumbersBeyondDoubleRangeRejected) {
  auto r = parse(R"({"t":1e999})");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message, "invalid JSON at byte 10: number out of range");
  EXPECT_TRUE(parse("[-1e999]").has_error());
  EXPECT_TRUE(parse("[1e308]").has_value());
}

TEST(JsonParse, SizeLimit) {
  ParseLimits limits;
  limits.max_bytes = 10;
  auto r = parse(R"({"a":"0123456789"})", limits);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(r.error().message, "JSON body of 18 bytes exceeds the limit of 10 bytes");
  EXPECT_TRUE(parse("[1,2,3]", limits).has_value());
}

TEST(JsonParse, DepthLimit) {
  ParseLimits limits;
  limits.max_depth = 3;
  EXPECT_TRUE(parse("[[[1]]]", limits).has_value());
  auto r = parse("[[[[1]]]]", limits);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "invalid JSON at byte 3: nesting deeper than 3 levels");
}

TEST(JsonParse, DefaultDepthIs64) {
  std::string ok = std::string(64, '[') + std::string(64, ']');
  std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_TRUE(parse(ok).has_value());
  EXPECT_TRUE(parse(deep).has_error());
}

TEST(JsonParse, StringLimitAppliesToStringsAndKeys) {
  ParseLimits limits;
  limits.max_string_bytes = 4;
  EXPECT_TRUE(parse(R"({"abcd":"wxyz"})", limits).has_value());
  auto s = parse(R"({"a":"wxyz1"})", limits);
  ASSERT_TRUE(s.has_error());
  EXPECT_EQ(s.error().message, "invalid JSON at byte 11: string longer than 4 bytes");
  auto k = parse(R"({"abcde":1})", limits);
  ASSERT_TRUE(k.has_error());
  EXPECT_EQ(k.error().message, "invalid JSON at byte 7: key longer than 4 bytes");
  // The offset is where the string ends. The limit counts unescaped bytes: "\u00e9" is two bytes of UTF-8.
  EXPECT_TRUE(parse(R"(["\u00e9\u00e9"])", limits).has_value());
  EXPECT_TRUE(parse(R"(["\u00e9\u00e9\u00e9"])", limits).has_error());
}

TEST(JsonParse, ReusableParserAndCallerStorage) {
  Parser parser;
  boost::json::monotonic_resource arena;
  boost::json::storage_ptr sp(&arena);
  for (int i = 0; i < 3; ++i) {
    auto r = parser.parse(R"({"model":"m","n":)" + std::to_string(i) + "}", sp);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->at("n").as_int64(), i);
    EXPECT_EQ(r->storage().get(), &arena);
  }
  // An error leaves the parser usable.
  EXPECT_TRUE(parser.parse("{", sp).has_error());
  auto r = parser.parse("[true]");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->as_array()[0].as_bool());
}

// ---------------------------------------------------------------------------------------------

TEST(JsonExtract, ReadsTypedFields) {
  auto v = must_parse(R"({"model":"llama","max_tokens":16,"temperature":0.5,"stream":true,
                          "n":2.0,"top_p":1,"stop":null})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  EXPECT_EQ(body.required_string("model"), "llama");
  EXPECT_EQ(body.optional_int("max_tokens"), 16);
  EXPECT_EQ(body.optional_double("temperature"), 0.5);
  EXPECT_EQ(body.optional_bool("stream"), true);
  EXPECT_EQ(body.required_int("n"), 2);           // 2.0 is an integer
  EXPECT_EQ(body.optional_double("top_p"), 1.0);  // integers are numbers
  EXPECT_EQ(body.optional_string("stop"), std::nullopt);
  EXPECT_EQ(body.optional_int("missing"), std::nullopt);
  EXPECT_TRUE(ex.ok());
}

TEST(JsonExtract, StringViewsPointIntoTheValue) {
  auto v = must_parse(R"({"model":"llama"})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  std::string_view model = body.required_string("model");
  EXPECT_EQ(model.data(), v.as_object().at("model").as_string().data());
}

TEST(JsonExtract, MissingVersusNull) {
  auto v = must_parse(R"({"a":null})");
  {
    Extractor ex;
    ObjectReader body = ex.root(v);
    EXPECT_EQ(body.presence("a"), Presence::kNull);
    EXPECT_EQ(body.presence("b"), Presence::kMissing);
    EXPECT_EQ(body.optional_string("a"), std::nullopt);
    EXPECT_EQ(body.optional_string("b"), std::nullopt);
    EXPECT_TRUE(ex.ok());
  }
  {
    Extractor ex;
    ObjectReader body = ex.root(v);
    body.required_string("b");
    ASSERT_FALSE(ex.ok());
    EXPECT_EQ(ex.error().message, "b: field required");
    EXPECT_EQ(ex.error_path(), "b");
  }
  {
    Extractor ex;
    ObjectReader body = ex.root(v);
    body.required_string("a");
    ASSERT_FALSE(ex.ok());
    EXPECT_EQ(ex.error().message, "a: expected string, got null");
  }
}

TEST(JsonExtract, WrongTypeNamesPathThroughArrays) {
  auto v = must_parse(R"({"messages":[{"role":"system","content":"x"},{"role":"user","content":"y"},
                                      {"role":"user","content":5}]})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  ArrayReader msgs = body.required_array("messages");
  ASSERT_TRUE(msgs);
  ASSERT_EQ(msgs.size(), 3u);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    ObjectReader m = msgs.object(i);
    ASSERT_TRUE(m);
    m.required_string("role");
    m.required_string("content");
  }
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ex.error().message, "messages[2].content: expected string, got number 5");
  EXPECT_EQ(ex.error_path(), "messages[2].content");
}

TEST(JsonExtract, FirstErrorWins) {
  auto v = must_parse(R"({"a":1,"b":"x"})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  body.required_string("a");
  body.required_int("b");
  EXPECT_EQ(ex.error().message, "a: expected string, got number 1");
}

TEST(JsonExtract, NestedObjectsAndArrays) {
  auto v = must_parse(R"({"stream_options":{"include_usage":"yes"},"grid":[[1,2],[3,"x"]]})");
  {
    Extractor ex;
    ObjectReader body = ex.root(v);
    ObjectReader so = body.optional_object("stream_options");
    ASSERT_TRUE(so);
    EXPECT_EQ(so.path(), "stream_options");
    so.optional_bool("include_usage");
    EXPECT_EQ(ex.error().message, "stream_options.include_usage: expected boolean, got string \"yes\"");
  }
  {
    Extractor ex;
    ObjectReader body = ex.root(v);
    ArrayReader grid = body.required_array("grid");
    ArrayReader row = grid.array(1);
    ASSERT_TRUE(row);
    EXPECT_EQ(row.integer(0), 3);
    EXPECT_EQ(row.integer(1), std::nullopt);
    EXPECT_EQ(ex.error().message, "grid[1][1]: expected integer, got string \"x\"");
  }
}

TEST(JsonExtract, AbsentContainersAreEmptyAndSilent) {
  auto v = must_parse(R"({"x":null})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  ObjectReader missing = body.optional_object("stream_options");
  EXPECT_FALSE(missing);
  EXPECT_EQ(missing.required_string("include_usage"), "");
  ArrayReader tools = body.optional_array("x");
  EXPECT_FALSE(tools);
  EXPECT_EQ(tools.size(), 0u);
  EXPECT_TRUE(ex.ok());
  ArrayReader required = body.required_array("messages");
  EXPECT_FALSE(required);
  EXPECT_EQ(ex.error().message, "messages: field required");
}

TEST(JsonExtract, ContainerTypeMismatch) {
  auto v = must_parse(R"({"messages":"hi","opts":[1]})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  EXPECT_FALSE(body.required_array("messages"));
  EXPECT_EQ(ex.error().message, "messages: expected array, got string \"hi\"");
  Extractor ex2;
  ObjectReader body2 = ex2.root(v);
  EXPECT_FALSE(body2.optional_object("opts"));
  EXPECT_EQ(ex2.error().message, "opts: expected object, got array");
}

TEST(JsonExtract, RootMustBeObject) {
  auto v = must_parse("[1]");
  Extractor ex;
  ObjectReader body = ex.root(v);
  EXPECT_FALSE(body);
  EXPECT_EQ(ex.error().message, "expected object, got array");
  EXPECT_EQ(ex.error_path(), "");
}

TEST(JsonExtract, IntegerEdgeCases) {
  auto v =
      must_parse(R"({"frac":1.5,"big":18446744073709551615,"neg":-3,"huge":1e300,"ok":9223372036854775807})");
  struct Case {
    const char* key;
    const char* message;
  };
  for (const Case& c : {Case{"frac", "frac: expected integer, got 1.5"},
                        Case{"big", "big: integer out of range: 18446744073709551615"},
                        Case{"huge", "huge: integer out of range: 1e+300"}}) {
    Extractor ex;
    ObjectReader body = ex.root(v);
    EXPECT_EQ(body.optional_int(c.key), std::nullopt);
    ASSERT_FALSE(ex.ok());
    EXPECT_EQ(ex.error().message, c.message);
  }
  Extractor ex;
  ObjectReader body = ex.root(v);
  EXPECT_EQ(body.optional_int("neg"), -3);
  EXPECT_EQ(body.optional_int("ok"), INT64_MAX);
  EXPECT_TRUE(ex.ok());
}

TEST(JsonExtract, BoolIsNotANumber) {
  auto v = must_parse(R"({"n":true,"t":1})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  EXPECT_EQ(body.optional_double("n"), std::nullopt);
  EXPECT_EQ(ex.error().message, "n: expected number, got boolean true");
  Extractor ex2;
  ObjectReader body2 = ex2.root(v);
  EXPECT_EQ(body2.optional_bool("t"), std::nullopt);
  EXPECT_EQ(ex2.error().message, "t: expected boolean, got number 1");
}

TEST(JsonExtract, ErrorsQuoteTheValueSentCutAt40Bytes) {
  const std::string long_text(50, 'x');
  auto v = must_parse(R"({"n":")" + long_text + R"(","o":{}})");
  Extractor ex;
  EXPECT_EQ(ex.root(v).optional_int("n"), std::nullopt);
  EXPECT_EQ(ex.error().message, "n: expected integer, got string \"" + std::string(40, 'x') + "\"...");
  Extractor ex2;
  EXPECT_EQ(ex2.root(v).optional_int("o"), std::nullopt);
  EXPECT_EQ(ex2.error().message, "o: expected integer, got object");  // containers by kind only
}

TEST(JsonExtract, UnionFieldsThroughFindAndFailType) {
  auto v = must_parse(R"({"messages":[{"content":[{"type":"text","text":"a"}]},{"content":{"a":1}}]})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  ArrayReader msgs = body.required_array("messages");
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    ObjectReader m = msgs.object(i);
    const boost::json::value* content = m.find("content");
    ASSERT_NE(content, nullptr);
    if (content->is_array()) {
      ArrayReader parts = m.required_array("content");
      ObjectReader part = parts.object(0);
      EXPECT_EQ(part.required_string("text"), "a");
    } else if (!content->is_string()) {
      m.fail_type("content", "string or array");
    }
  }
  EXPECT_EQ(ex.error().message, "messages[1].content: expected string or array, got object");
}

TEST(JsonExtract, CallerValidationNamesPath) {
  auto v = must_parse(R"({"sampling":{"max_tokens":0},"stop":["a",1]})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  ObjectReader s = body.required_object("sampling");
  if (s.required_int("max_tokens") < 1) s.fail("max_tokens", "must be at least 1, got 0");
  EXPECT_EQ(ex.error().message, "sampling.max_tokens: must be at least 1, got 0");
  EXPECT_EQ(ex.error_path(), "sampling.max_tokens");

  Extractor ex2;
  ObjectReader body2 = ex2.root(v);
  ArrayReader stop = body2.optional_array("stop");
  EXPECT_EQ(stop.string(0), "a");
  EXPECT_EQ(stop.string(1), std::nullopt);
  EXPECT_EQ(ex2.error().message, "stop[1]: expected string, got number 1");
  EXPECT_EQ(stop.path(), "stop");
}

TEST(JsonExtract, ArrayIndexOutOfRange) {
  auto v = must_parse(R"({"a":[]})");
  Extractor ex;
  ObjectReader body = ex.root(v);
  ArrayReader a = body.required_array("a");
  EXPECT_EQ(a.boolean(0), std::nullopt);
  EXPECT_EQ(ex.error().message, "a[0]: index out of range");
}

TEST(JsonExtract, KindNames) {
  auto v = must_parse(R"([null,true,1,-1,1.5,"s",[],{}, 18446744073709551615])");
  const auto& a = v.as_array();
  EXPECT_EQ(kind_name(a[0]), "null");
  EXPECT_EQ(kind_name(a[1]), "boolean");
  EXPECT_EQ(kind_name(a[2]), "number");
  EXPECT_EQ(kind_name(a[3]), "number");
  EXPECT_EQ(kind_name(a[4]), "number");
  EXPECT_EQ(kind_name(a[5]), "string");
  EXPECT_EQ(kind_name(a[6]), "array");
  EXPECT_EQ(kind_name(a[7]), "object");
  EXPECT_EQ(kind_name(a[8]), "number");
}

}  // namespace
}  // namespace llmd::json
