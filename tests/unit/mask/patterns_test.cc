// Pattern expansion, checked against encodings computed here by other means.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "mask/redactor.h"

namespace jitsec::mask {
namespace {

using std::string_literals::operator""s;

std::vector<std::string> Expand(std::string_view value, const Options& options = {}) {
  std::vector<std::string> out;
  for (const SecretBytes& p : ExpandSecret(value, options)) out.emplace_back(p.Reveal());
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The base64 characters that do not depend on the bytes around the value: encode it between
// all-zero and all-one neighbours and keep the positions where all four encodings agree.
std::string Base64Core(std::string_view value, size_t offset, Base64Alphabet alphabet) {
  std::vector<std::string> encodings;
  for (char before : {'\x00', '\xff'}) {
    for (char after : {'\x00', '\xff'}) {
      std::string bytes(offset, before);
      bytes.append(value);
      bytes.append(3, after);
      encodings.push_back(Base64Encode(bytes, alphabet, false));
    }
  }
  std::string core;
  bool started = false;
  for (size_t i = 0; i < encodings[0].size(); ++i) {
    bool same = std::all_of(encodings.begin(), encodings.end(),
                            [&](const std::string& e) { return e[i] == encodings[0][i]; });
    if (same) {
      core.push_back(encodings[0][i]);
      started = true;
    } else if (started) {
      break;
    }
  }
  return core;
}

TEST(ExpandSecretTest, IncludesRawHexPercentJsonAndBase64AtEveryAlignment) {
  const std::vector<std::string> values = {"hunter2-Password!", "p@ss w/rd:+&=?%#",
                                           "\x00\xff\x10k3y\x80\x7f\"\\/<&'"s, "abcdef"};
  for (const std::string& v : values) {
    auto patterns = Expand(v);
    EXPECT_TRUE(Contains(patterns, v));
    EXPECT_TRUE(Contains(patterns, HexEncode(v, false)));
    EXPECT_TRUE(Contains(patterns, HexEncode(v, true)));
    EXPECT_TRUE(Contains(patterns, PercentEncode(v, true)));
    EXPECT_TRUE(Contains(patterns, PercentEncode(v, false)));
    EXPECT_TRUE(Contains(patterns, JsonEscape(v)));
    for (auto alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
      EXPECT_TRUE(Contains(patterns, Base64Encode(v, alphabet, true)));
      EXPECT_TRUE(Contains(patterns, Base64Encode(v, alphabet, false)));
      for (size_t offset = 0; offset < 3; ++offset) {
        std::string core = Base64Core(v, offset, alphabet);
        EXPECT_GE(core.size(), v.size()) << offset;
        EXPECT_TRUE(Contains(patterns, core)) << "offset " << offset;
      }
    }
    EXPECT_TRUE(std::is_sorted(patterns.begin(), patterns.end()));
    EXPECT_EQ(std::adjacent_find(patterns.begin(), patterns.end()), patterns.end());
  }
}

TEST(ExpandSecretTest, Base64CoreIsFoundInsideALongerStreamAtAnyOffset) {
  const std::string v = "correct horse battery staple";
  auto patterns = Expand(v);
  std::mt19937 rng(3);
  for (size_t before = 0; before < 7; ++before) {
    for (size_t after = 0; after < 4; ++after) {
      std::string bytes;
      for (size_t i = 0; i < before; ++i) bytes.push_back(static_cast<char>(rng()));
      bytes += v;
      for (size_t i = 0; i < after; ++i) bytes.push_back(static_cast<char>(rng()));
      for (auto alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
        for (bool pad : {true, false}) {
          std::string encoded = Base64Encode(bytes, alphabet, pad);
          bool found = std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
            return p.size() >= v.size() && encoded.find(p) != std::string::npos;
          });
          EXPECT_TRUE(found) << before << " " << after;
          if (after == 0) {  // the value ends the stream: the whole tail is a pattern
            std::string tail = encoded.substr((before % 3 == 0 ? before / 3 * 4
                                                                : (8 * before + 5) / 6));
            EXPECT_TRUE(Contains(patterns, tail)) << before << " pad " << pad;
          }
        }
      }
    }
  }
}

TEST(ExpandSecretTest, IncludesCommonEscapingVariants) {
  auto patterns = Expand("a/b<c>&d'e\"f\x01g");
  EXPECT_TRUE(Contains(patterns, "a\\/b<c>&d'e\\\"f\\u0001g"));
  EXPECT_TRUE(Contains(patterns, "a/b\\u003cc\\u003e\\u0026d'e\\\"f\\u0001g"));  // Go
  EXPECT_TRUE(Contains(patterns, "a/b&lt;c&gt;&amp;d&#39;e&quot;f\x01g"));
  EXPECT_TRUE(Contains(patterns, "a/b&lt;c&gt;&amp;d&apos;e&quot;f\x01g"));
  auto upper = Expand("tab\there\x1f!");
  EXPECT_TRUE(Contains(upper, "tab\\there\\u001F!"));
  auto utf8 = Expand("p\xc3\xa4ss\xf0\x9f\x98\x80");
  EXPECT_TRUE(Contains(utf8, "p\\u00e4ss\\ud83d\\ude00"));  // Python json.dumps
  auto url = Expand("p@ss w/rd:+");
  EXPECT_TRUE(Contains(url, "p%40ss%20w%2Frd%3A%2B"));  // encodeURIComponent, RFC 3986
  EXPECT_TRUE(Contains(url, "p@ss%20w/rd:+"));          // encodeURI
  EXPECT_TRUE(Contains(url, "p%40ss+w%2Frd%3A%2B"));    // form encoding
  EXPECT_TRUE(Contains(url, "p%40ss%20w%2Frd%3A%2B"));
  auto reserved_only = Expand("a{b}|c^d/e");
  EXPECT_TRUE(Contains(reserved_only, "a{b}|c^d%2Fe"));
  EXPECT_TRUE(Contains(reserved_only, "a{b}|c^d%2fe"));
}

TEST(ExpandSecretTest, AddsEachLongEnoughLineOfAMultiLineValue) {
  auto patterns = Expand("first line here\r\n  indented line  \nshort\n");
  EXPECT_TRUE(Contains(patterns, "first line here"));
  EXPECT_TRUE(Contains(patterns, "  indented line  "));
  EXPECT_TRUE(Contains(patterns, "indented line"));
  EXPECT_TRUE(Contains(patterns, "first%20line%20here"));
  EXPECT_FALSE(Contains(patterns, "short"));
  EXPECT_TRUE(Contains(patterns, "first line here\r\n  indented line  \nshort\n"));
}

TEST(ExpandSecretTest, ReturnsNothingForValuesShorterThanTheMinimum) {
  EXPECT_TRUE(Expand("12345").empty());
  EXPECT_TRUE(Expand("").empty());
  EXPECT_EQ(Expand("12345", Options{.min_length = 5, .encodings = false}),
            std::vector<std::string>{"12345"});
}

TEST(ExpandSecretTest, NoPatternIsShorterThanTheMinimum) {
  for (std::string v : {"abcdef"s, "\x00\x00\x00\x00\x00\x00"s, "a\nbcdefgh\n"s}) {
    for (const std::string& p : Expand(v)) EXPECT_GE(p.size(), 6u);
  }
}

}  // namespace
}  // namespace jitsec::mask
