#include "jinja/value.h"

#include <cmath>

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace llmd::jinja {
namespace {

TEST(ValueTest, FloatReprMatchesPython) {
  EXPECT_EQ(float_repr(1.0), "1.0");
  EXPECT_EQ(float_repr(0.1), "0.1");
  EXPECT_EQ(float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(float_repr(1e16), "1e+16");
  EXPECT_EQ(float_repr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(float_repr(0.0001), "0.0001");
  EXPECT_EQ(float_repr(0.00001), "1e-05");
  EXPECT_EQ(float_repr(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(float_repr(1.5e300), "1.5e+300");
  EXPECT_EQ(float_repr(-0.0), "-0.0");
  EXPECT_EQ(float_repr(std::nan("")), "nan");
  EXPECT_EQ(float_repr(-INFINITY), "-inf");
}

TEST(ValueTest, StrAndReprMatchPython) {
  EXPECT_EQ(string_repr("it's"), "\"it's\"");
  EXPECT_EQ(string_repr("a\"b'c"), "'a\"b\\'c'");
  EXPECT_EQ(string_repr("tab\tnl\n\x01\x7f\xC2\xA0\xE2\x80\xA8\xF0\x9F\x99\x82"),
            "'tab\\tnl\\n\\x01\\x7f\\xa0\\u2028\xF0\x9F\x99\x82'");
  Value v = Value::from_json(boost::json::parse(R"({"a":[1,2.0,"x",null,true],"b":{}})"));
  EXPECT_EQ(v.str(), "{'a': [1, 2.0, 'x', None, True], 'b': {}}");
  EXPECT_EQ(Value::list({Value::integer(1)}, true).str(), "(1,)");
  EXPECT_EQ(Value::undefined().str(), "");
  EXPECT_FALSE(Value::undefined().truthy());
  EXPECT_FALSE(Value::string("").truthy());
  EXPECT_TRUE(Value::list({Value::none()}).truthy());
}

TEST(ValueTest, EqualityAndOrderingFollowPython) {
  EXPECT_TRUE(equals(Value::integer(1), Value::floating(1.0)));
  EXPECT_TRUE(equals(Value::boolean(true), Value::integer(1)));
  EXPECT_FALSE(equals(Value::list({}, true), Value::list({})));  // () != []
  EXPECT_TRUE(equals(Value::from_json(boost::json::parse(R"({"a":1,"b":2})")),
                     Value::from_json(boost::json::parse(R"({"b":2,"a":1})"))));
  EXPECT_TRUE(less_than(Value::string("a"), Value::string("b")).value());
  EXPECT_FALSE(less_than(Value::string("a"), Value::integer(1)));
}

TEST(ValueTest, JsonDumpsLikePython) {
  Value v = Value::from_json(boost::json::parse(R"({"z":[1,1.5,"é\n\u0001"],"a":{}})"));
  EXPECT_EQ(to_json(v, {}).value(), "{\"z\": [1, 1.5, \"\xC3\xA9\\n\\u0001\"], \"a\": {}}");
  JsonOptions indent;
  indent.indent = 2;
  EXPECT_EQ(to_json(v, indent).value(),
            "{\n  \"z\": [\n    1,\n    1.5,\n    \"\xC3\xA9\\n\\u0001\"\n  ],\n  \"a\": {}\n}");
  JsonOptions ascii;
  ascii.ensure_ascii = true;
  ascii.sort_keys = true;
  EXPECT_EQ(to_json(v, ascii).value(), "{\"a\": {}, \"z\": [1, 1.5, \"\\u00e9\\n\\u0001\"]}");
  EXPECT_FALSE(to_json(Value::undefined(), {}));
}

}  // namespace
}  // namespace llmd::jinja
