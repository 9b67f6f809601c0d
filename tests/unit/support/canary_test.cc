// Tests of the canary checks in tests/support: a canary embedded in base64 text at any byte
// offset, followed by anything, is found (invariant 1's "common encodings"), and text without
// it is not flagged.
#include <gtest/gtest-spi.h>

#include <string>

#include "base/encoding.h"
#include "support/support.h"

namespace jitsec::testing {
namespace {

// How many failures ExpectNoCanary records for `haystack` (intercepted, not this test's own).
int CanaryFailures(const std::string& haystack, const std::string& canary) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    ExpectNoCanary(haystack, canary, "the haystack");
  }
  return results.size();
}

std::string Embedded(std::string_view prefix, const std::string& canary, std::string_view suffix,
                     Base64Alphabet alphabet, bool pad) {
  return "token: " + Base64Encode(std::string(prefix) + canary + std::string(suffix), alphabet, pad) +
         "\n";
}

TEST(CanaryFormsTest, FindsACanaryEmbeddedInBase64AtOffsetOneAndTwo) {
  const std::string canary = MakeCanary("forms");
  for (Base64Alphabet alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
    // Bytes chosen so that the standard and URL alphabets differ around the canary.
    const std::string one = Embedded("\xfb", canary, "\xff\xfe", alphabet, true);
    const std::string two = Embedded("\xfb\xff", canary, "\xfe", alphabet, false);
    // The offset-0 encoding of the canary is not in either text: only the new forms find them.
    EXPECT_EQ(one.find(Base64Encode(canary, alphabet, false).substr(0, 8)), std::string::npos);
    EXPECT_EQ(two.find(Base64Encode(canary, alphabet, false).substr(0, 8)), std::string::npos);
    EXPECT_TRUE(FindCanary(one, canary).has_value()) << one;
    EXPECT_TRUE(FindCanary(two, canary).has_value()) << two;
    EXPECT_GE(CanaryFailures(one, canary), 1) << one;
    EXPECT_GE(CanaryFailures(two, canary), 1) << two;
  }
}

// Every offset and every length of what follows (which moves the padding and the last group),
// both alphabets, with and without padding; canaries of each length modulo 3.
TEST(CanaryFormsTest, FindsACanaryEmbeddedInBase64AtAnyOffsetWithAnythingAfterIt) {
  for (const std::string& canary :
       {MakeCanary("a"), MakeCanary("ab"), MakeCanary("abc"), std::string("JITSEC-CANARY-x")}) {
    for (size_t before = 0; before < 6; ++before) {
      for (size_t after = 0; after < 4; ++after) {
        for (Base64Alphabet alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
          for (bool pad : {false, true}) {
            const std::string text = Embedded(std::string(before, '\xa5'), canary,
                                              std::string(after, '\x5a'), alphabet, pad);
            EXPECT_TRUE(FindCanary(text, canary).has_value())
                << canary << " before=" << before << " after=" << after << " pad=" << pad;
          }
        }
      }
    }
  }
}

TEST(CanaryFormsTest, FindsRawAndHexForms) {
  const std::string canary = MakeCanary("raw");
  EXPECT_TRUE(FindCanary("x" + canary + "y", canary).has_value());
  EXPECT_TRUE(FindCanary("x" + HexEncode(canary) + "y", canary).has_value());
  EXPECT_TRUE(FindCanary("x" + HexEncode(canary, true) + "y", canary).has_value());
}

TEST(CanaryFormsTest, TextWithoutTheCanaryIsNotFlagged) {
  const std::string canary = MakeCanary("clean");
  const std::string other = MakeCanary("other");
  std::string text = "log line\n";
  for (size_t before = 0; before < 3; ++before) {
    text += Base64Encode(std::string(before, 'q') + other) + "\n" + HexEncode(other) + "\n";
  }
  EXPECT_EQ(FindCanary(text, canary), std::nullopt);
  EXPECT_EQ(CanaryFailures(text, canary), 0);
}

}  // namespace
}  // namespace jitsec::testing
