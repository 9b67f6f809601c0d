#include "policy/policy.h"

#include <gtest/gtest.h>

namespace jitsec::policy {
namespace {

using std::chrono::seconds;

TEST(PolicyDurationTest, ParsesUnitsInOrder) {
  EXPECT_EQ(ParseDuration("45s"), seconds(45));
  EXPECT_EQ(ParseDuration("10m"), seconds(600));
  EXPECT_EQ(ParseDuration("2h"), seconds(7200));
  EXPECT_EQ(ParseDuration("1h30m"), seconds(5400));
  EXPECT_EQ(ParseDuration("1h0m30s"), seconds(3630));
  EXPECT_EQ(ParseDuration("1h30s"), seconds(3630));
  EXPECT_EQ(ParseDuration("90m"), seconds(5400));
  EXPECT_EQ(ParseDuration("0s"), seconds(0));
}

TEST(PolicyDurationTest, RejectsEverythingElse) {
  for (const char* bad : {"", "10", "m", "10 minutes", "10M", "1m1h", "1h1h", "-5s", "1.5h", " 10m",
                          "10m ", "1d", "9999999999s", "10ms"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(PolicyDurationTest, FormatsShortestForm) {
  EXPECT_EQ(FormatDuration(seconds(45)), "45s");
  EXPECT_EQ(FormatDuration(seconds(600)), "10m");
  EXPECT_EQ(FormatDuration(seconds(5400)), "1h30m");
  EXPECT_EQ(FormatDuration(seconds(3630)), "1h30s");
  EXPECT_EQ(FormatDuration(seconds(7200)), "2h");
  EXPECT_EQ(FormatDuration(seconds(0)), "0s");
}

TEST(PolicyDurationTest, FormatRoundTripsThroughParse) {
  for (int s : {1, 59, 60, 61, 3599, 3600, 3661, 86400, 90061}) {
    EXPECT_EQ(ParseDuration(FormatDuration(seconds(s))), seconds(s)) << s;
  }
}

}  // namespace
}  // namespace jitsec::policy
