#include "core/json_number.h"

#include <gtest/gtest.h>

namespace danvan {
namespace {

using nlohmann::json;

std::optional<int64_t> Exact(const char* text) { return JsonExactInt(json::parse(text)); }

TEST(JsonExactIntTest, IntegersAndIntegralFloatsAreRead) {
  EXPECT_EQ(Exact("0"), 0);
  EXPECT_EQ(Exact("-3"), -3);
  EXPECT_EQ(Exact("401.0"), 401);
  EXPECT_EQ(Exact("-2e3"), -2000);
  EXPECT_EQ(Exact("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(Exact("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(Exact("9007199254740992.0"), int64_t{9007199254740992});
}

// Each of these, cast to an integer, is undefined behaviour or silently wrong.
TEST(JsonExactIntTest, WhatIsNotAnExactInt64IsRefused) {
  for (const char* text : {"1.5", "1e76", "-1e300", "1.7976931348623157e308", "9007199254740994.0",
                           "18446744073709551615", "9223372036854775808", "\"12\"", "true",
                           "null", "[1]", "{}"}) {
    EXPECT_EQ(Exact(text), std::nullopt) << text;
  }
  EXPECT_EQ(JsonExactInt(json(std::numeric_limits<double>::quiet_NaN())), std::nullopt);
  EXPECT_EQ(JsonExactInt(json(std::numeric_limits<double>::infinity())), std::nullopt);
}

TEST(JsonExactIntTest, RangeIsInclusive) {
  EXPECT_EQ(JsonIntInRange(json(1), 1, 2), 1);
  EXPECT_EQ(JsonIntInRange(json(2.0), 1, 2), 2);
  EXPECT_EQ(JsonIntInRange(json(3), 1, 2), std::nullopt);
  EXPECT_EQ(JsonIntInRange(json(0), 1, 2), std::nullopt);
  EXPECT_EQ(JsonIntInRange(json(1e300), 1, 2), std::nullopt);
}

}  // namespace
}  // namespace danvan
