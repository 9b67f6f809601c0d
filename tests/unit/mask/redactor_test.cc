// The streaming matcher against a trivially correct whole-input reference, for every split
// position, 1-byte writes and random chunkings.
#include "mask/redactor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "support/support.h"

namespace jitsec::mask {
namespace {

using std::string_literals::operator""s;

// Marks every byte covered by any occurrence of any pattern, then replaces each maximal run of
// marked bytes by `replacement`. Quadratic on purpose: obviously right.
std::string ReferenceMask(std::string_view text, const std::vector<std::string>& patterns,
                          std::string_view replacement = "***") {
  std::vector<bool> marked(text.size(), false);
  for (size_t i = 0; i < text.size(); ++i) {
    for (const std::string& p : patterns) {
      if (!p.empty() && text.substr(i, p.size()) == p) {
        for (size_t k = 0; k < p.size(); ++k) marked[i + k] = true;
      }
    }
  }
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!marked[i]) {
      out.push_back(text[i]);
    } else if (i == 0 || !marked[i - 1]) {
      out += replacement;
    }
  }
  return out;
}

struct Fixture {
  std::vector<SecretBytes> secrets;
  std::vector<std::string> patterns;  // every pattern of every secret
  std::shared_ptr<const PatternSet> set;
};

// The skip filter's loop under test: AVX2 (where the CPU has it) or scalar. Every
// RedactorTest runs with both (the fixture sets it); the output must be the same.
bool g_simd = true;

Fixture Make(const std::vector<std::string>& values, Options options = {}) {
  options.simd = g_simd;
  Fixture f;
  std::vector<const SecretBytes*> ptrs;
  for (const std::string& v : values) f.secrets.emplace_back(v);
  for (const SecretBytes& s : f.secrets) {
    ptrs.push_back(&s);
    for (const SecretBytes& p : ExpandSecret(s.Reveal(), options)) {
      f.patterns.emplace_back(p.Reveal());
    }
  }
  f.set = Compile(ptrs, options);
  return f;
}

// Feeds `text` in the given chunk sizes (the rest in one piece), checking the hold bound.
// Every chunk also goes through a second Redactor that emits OutputSpans (the relay's form),
// from a copy of the chunk that is overwritten once its spans are read, as the relay reuses
// its read buffer; both outputs must be the same.
std::string RunChunks(const std::shared_ptr<const PatternSet>& set, std::string_view text,
                      const std::vector<size_t>& sizes) {
  Redactor r(set);
  Redactor by_spans(set);
  OutputSpans spans;
  std::string out;
  std::string out_by_spans;
  std::string buffer;
  auto feed = [&](std::string_view chunk) {
    r.Feed(chunk, out);
    buffer.assign(chunk);
    spans.clear();
    by_spans.Feed(buffer, spans);
    out_by_spans += spans.ToString();
    EXPECT_EQ(by_spans.held_bytes(), r.held_bytes());
    std::fill(buffer.begin(), buffer.end(), '#');
  };
  size_t at = 0;
  const size_t bound = MaxPatternLength(*set) == 0 ? 0 : MaxPatternLength(*set) - 1;
  for (size_t n : sizes) {
    n = std::min(n, text.size() - at);
    feed(text.substr(at, n));
    at += n;
    EXPECT_LE(r.held_bytes(), bound);
  }
  feed(text.substr(at));
  EXPECT_LE(r.held_bytes(), bound);
  r.Finish(out);
  EXPECT_EQ(r.held_bytes(), 0u);
  spans.clear();
  by_spans.Finish(spans);
  out_by_spans += spans.ToString();
  EXPECT_EQ(out_by_spans, out);
  return out;
}

std::string OneShot(const std::shared_ptr<const PatternSet>& set, std::string_view text) {
  return RunChunks(set, text, {});
}

std::string RandomText(std::mt19937& rng, size_t n, std::string_view extra_alphabet = "") {
  static const std::string kBase =
      "the quick brown fox jumps over lazy dogs 0123456789 ABCDEF\n\t{}\":,=/+%";
  std::string alphabet = kBase + std::string(extra_alphabet);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(alphabet[pick(rng)]);
  return s;
}

const std::vector<std::string>& TestSecrets() {
  static const std::vector<std::string> kSecrets = {
      "hunter2-Password!",
      "secret",
      "secret123",
      "abcabcab",
      "\x00\xff\x10k3y\x80\x7f\"\\/<&'"s,
      "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD\r\n  line three is here\n-----END KEY-----\n",
      "p@ss w/rd:+&=?%#",
      "p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac\xf0\x9f\x98\x80",
  };
  return kSecrets;
}

class RedactorTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { g_simd = GetParam(); }
  void TearDown() override { g_simd = true; }
};

INSTANTIATE_TEST_SUITE_P(, RedactorTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Simd" : "Scalar";
                         });

TEST_P(RedactorTest, TakesTheSimdLoopOnlyWhereAskedAndTheCpuHasAvx2) {
  Fixture f = Make(TestSecrets());
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2");
#else
  const bool avx2 = false;
#endif
  if (GetParam() && !avx2) GTEST_SKIP() << "this CPU has no AVX2: the scalar loop runs either way";
  EXPECT_EQ(UsesSimd(*f.set), GetParam());
}

TEST_P(RedactorTest, PassesTextWithoutSecretsThroughUnchanged) {
  Fixture f = Make(TestSecrets());
  std::mt19937 rng(1);
  for (int round = 0; round < 20; ++round) {
    std::string text = RandomText(rng, 3000);
    ASSERT_EQ(ReferenceMask(text, f.patterns), text) << "random text hit a pattern; reseed";
    EXPECT_EQ(OneShot(f.set, text), text);
    EXPECT_EQ(RunChunks(f.set, text, std::vector<size_t>(text.size(), 1)), text);
  }
}

TEST_P(RedactorTest, SpansReferenceTheInputInsteadOfCopyingIt) {
  Fixture f = Make({"hunter2-Password!"});
  Redactor r(f.set);
  OutputSpans spans;
  const std::string clean = "nothing to see here, just a log line\n";
  r.Feed(clean, spans);
  ASSERT_EQ(spans.span_count(), 1u);
  EXPECT_EQ(spans.span(0).data(), clean.data());  // written from the read buffer itself
  EXPECT_EQ(spans.ToString(), clean);
  // A secret in the middle: input run, replacement, input run; a held prefix at the end is
  // not in the output yet and comes out (copied) with the next Feed.
  const std::string mixed = "a hunter2-Password! b hunter2-Pass";
  spans.clear();
  r.Feed(mixed, spans);
  EXPECT_EQ(spans.ToString(), "a *** b ");
  EXPECT_EQ(spans.size(), 8u);
  EXPECT_EQ(spans.span(0).data(), mixed.data());
  spans.clear();
  r.Feed("port\n", spans);
  EXPECT_EQ(spans.ToString(), "hunter2-Passport\n");
  spans.clear();
  r.Finish(spans);
  EXPECT_EQ(spans.size(), 0u);
}

TEST_P(RedactorTest, HoldsPossiblePrefixUntilTheNextBytesRuleItOut) {
  Fixture f = Make({"secret123"});
  Redactor r(f.set);
  std::string out;
  r.Feed("sec", out);
  EXPECT_EQ(out, "");
  EXPECT_EQ(r.held_bytes(), 3u);
  r.Feed("x", out);
  EXPECT_EQ(out, "secx");
  EXPECT_EQ(r.held_bytes(), 0u);
  r.Feed("secret12", out);
  EXPECT_EQ(out, "secx");
  EXPECT_EQ(r.held_bytes(), 8u);
  r.Feed("3 done", out);
  EXPECT_EQ(out, "secx*** done");
  r.Finish(out);
  EXPECT_EQ(out, "secx*** done");
}

TEST_P(RedactorTest, FinishReleasesAHeldPrefixUnmasked) {
  Fixture f = Make({"secret123"});
  Redactor r(f.set);
  std::string out;
  r.Feed("ends with secret12", out);
  EXPECT_EQ(out, "ends with ");
  r.Finish(out);
  EXPECT_EQ(out, "ends with secret12");
  // The redactor starts a new stream after Finish.
  r.Feed("secret123!", out);
  r.Finish(out);
  EXPECT_EQ(out, "ends with secret12***!");
}

TEST_P(RedactorTest, DoesNotMaskValuesShorterThanTheMinimum) {
  Fixture f = Make({"abc12", "xy"});
  EXPECT_EQ(PatternCount(*f.set), 0u);
  EXPECT_EQ(SkippedSecretCount(*f.set), 2u);
  EXPECT_EQ(OneShot(f.set, "abc12 xy abc12"), "abc12 xy abc12");
  Fixture g = Make({"abc12"}, Options{.min_length = 5});
  EXPECT_EQ(OneShot(g.set, "abc12 xy abc12"), "*** xy ***");
}

TEST_P(RedactorTest, MasksASecretThatIsAPrefixOfAnother) {
  Fixture f = Make({"secret", "secret123"});
  EXPECT_EQ(OneShot(f.set, "a secret123 b"), "a *** b");
  EXPECT_EQ(OneShot(f.set, "a secret12x b"), "a ***12x b");
  EXPECT_EQ(OneShot(f.set, "secretsecret123secret"), "***");
}

TEST_P(RedactorTest, MergesOverlappingAndAdjacentMatchesIntoOneReplacement) {
  Fixture f = Make({"abcabcab"});
  EXPECT_EQ(OneShot(f.set, "xabcabcabcabcaby"), "x***y");
  EXPECT_EQ(OneShot(f.set, "abcabcababcabcab"), "***");
  EXPECT_EQ(OneShot(f.set, "abcabcab abcabcab"), "*** ***");
  EXPECT_EQ(OneShot(f.set, "abcabca abcabcabc"), "abcabca ***c");
}

TEST_P(RedactorTest, MergesAShortMatchIntoALongerOneThatStartedEarlier) {
  // "cdefgh" completes first, inside "abcdefghij" which completes later.
  Fixture f = Make({"cdefgh", "abcdefghij"}, Options{.encodings = false});
  EXPECT_EQ(OneShot(f.set, "xabcdefghijy"), "x***y");
  EXPECT_EQ(OneShot(f.set, "xabcdefghiy"), "xab***iy");
  for (size_t split = 0; split <= 11; ++split) {
    EXPECT_EQ(RunChunks(f.set, "xabcdefghiy", {split}), "xab***iy") << split;
  }
}

TEST_P(RedactorTest, UsesTheConfiguredReplacement) {
  Fixture f = Make({"hunter2-Password!"}, Options{.replacement = "[masked]"});
  EXPECT_EQ(OneShot(f.set, "pw=hunter2-Password!;"), "pw=[masked];");
}

TEST_P(RedactorTest, WithoutEncodingsMasksOnlyTheRawValue) {
  Fixture f = Make({"hunter2-Password!"}, Options{.encodings = false});
  const std::string hex = HexEncode("hunter2-Password!");
  EXPECT_EQ(PatternCount(*f.set), 1u);
  EXPECT_EQ(OneShot(f.set, hex + " hunter2-Password!"), hex + " ***");
}

TEST_P(RedactorTest, EmptyPatternSetPassesEverythingThrough) {
  Fixture f = Make({});
  Redactor r(f.set);
  std::string out;
  r.Feed("anything at all", out);
  EXPECT_EQ(r.held_bytes(), 0u);
  r.Finish(out);
  EXPECT_EQ(out, "anything at all");
}

TEST_P(RedactorTest, MasksEachLineOfAMultiLineSecret) {
  const std::string pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD\nshort\n-----END KEY-----\n";
  Fixture f = Make({pem});
  EXPECT_EQ(OneShot(f.set, "key: MIIBOgIBAAJBAKj34GkxFhD."), "key: ***.");
  EXPECT_EQ(OneShot(f.set, "<" + pem + ">"), "<***>");
  // Lines shorter than the minimum are not patterns on their own.
  EXPECT_EQ(OneShot(f.set, "short"), "short");
  EXPECT_EQ(OneShot(f.set, "-----END KEY-----"), "***");
}

TEST_P(RedactorTest, StreamsOfOneSetAreIndependent) {
  Fixture f = Make({"secret123"});
  Redactor out_stream(f.set);
  Redactor err_stream(f.set);
  std::string out;
  std::string err;
  out_stream.Feed("secr", out);
  err_stream.Feed("et123", err);
  out_stream.Feed("et123", out);
  err_stream.Finish(err);
  out_stream.Finish(out);
  EXPECT_EQ(out, "***");
  EXPECT_EQ(err, "et123");
}

TEST_P(RedactorTest, MovedRedactorKeepsItsState) {
  Fixture f = Make({"secret123"});
  Redactor a(f.set);
  std::string out;
  a.Feed("x secret", out);
  Redactor b(std::move(a));
  b.Feed("123 y", out);
  b.Finish(out);
  EXPECT_EQ(out, "x *** y");
}

// Every pattern of every secret, embedded in random text (twice, plus a near miss), through
// every two-chunk split, 1-byte writes and random chunkings: byte-exact against the reference.
TEST_P(RedactorTest, MatchesReferenceForEveryEncodingAtEverySplit) {
  Fixture f = Make(TestSecrets());
  std::mt19937 rng(7);
  size_t inputs = 0;
  for (const std::string& form : f.patterns) {
    std::string text = RandomText(rng, 23) + form + RandomText(rng, 5) + form +
                       form.substr(0, form.size() - 1) + RandomText(rng, 17);
    const std::string expected = ReferenceMask(text, f.patterns);
    ASSERT_EQ(expected.find(form), std::string::npos);
    EXPECT_EQ(OneShot(f.set, text), expected);
    for (size_t split = 0; split <= text.size(); ++split) {
      ASSERT_EQ(RunChunks(f.set, text, {split}), expected) << "split " << split;
    }
    ASSERT_EQ(RunChunks(f.set, text, std::vector<size_t>(text.size(), 1)), expected);
    for (int round = 0; round < 10; ++round) {
      std::vector<size_t> sizes;
      std::uniform_int_distribution<size_t> len(0, 9);
      for (size_t total = 0; total < text.size();) {
        sizes.push_back(len(rng));
        total += sizes.back();
      }
      ASSERT_EQ(RunChunks(f.set, text, sizes), expected) << "round " << round;
    }
    ++inputs;
  }
  EXPECT_GT(inputs, 100u);
}

// Dense random mixtures of secrets, pieces of secrets and noise, as stress for the
// skip filter's hand-over between sampling and the automaton.
TEST_P(RedactorTest, MatchesReferenceOnDenseRandomMixtures) {
  Fixture f = Make(TestSecrets());
  std::mt19937 rng(11);
  std::uniform_int_distribution<size_t> which(0, f.patterns.size() - 1);
  std::uniform_int_distribution<int> kind(0, 3);
  for (int round = 0; round < 60; ++round) {
    std::string text;
    while (text.size() < 600) {
      const std::string& p = f.patterns[which(rng)];
      switch (kind(rng)) {
        case 0: text += p; break;
        case 1: text += p.substr(0, std::uniform_int_distribution<size_t>(0, p.size())(rng)); break;
        case 2: text += p.substr(std::uniform_int_distribution<size_t>(0, p.size())(rng)); break;
        default: text += RandomText(rng, 7, "abcsecret123");
      }
    }
    const std::string expected = ReferenceMask(text, f.patterns);
    std::vector<size_t> sizes;
    std::uniform_int_distribution<size_t> len(1, 64);
    for (size_t total = 0; total < text.size();) {
      sizes.push_back(len(rng));
      total += sizes.back();
    }
    ASSERT_EQ(OneShot(f.set, text), expected) << round;
    ASSERT_EQ(RunChunks(f.set, text, sizes), expected) << round;
  }
}

// Long random secrets, as API keys are: the skip filter then samples with its longest stride
// (one q-gram per 12 or 13 bytes), in its two configurations, a few patterns (q = 4) and more
// than 256 (q = 5), including its unrolled loop and the samples near the end of each chunk.
TEST_P(RedactorTest, MatchesReferenceWithLongSecretsInBothFilterConfigurations) {
  for (size_t n_secrets : {1u, 60u}) {
    std::mt19937 rng(static_cast<uint32_t>(n_secrets));
    static const char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::vector<std::string> values;
    for (size_t i = 0; i < n_secrets; ++i) {
      std::string v;
      const size_t len = 16 + rng() % 25;
      for (size_t k = 0; k < len; ++k) v.push_back(kAlnum[rng() % 62]);
      values.push_back(v);
    }
    Fixture f = Make(values);
    ASSERT_GE(MinPatternLength(*f.set), 16u);  // the window is 16: the longest stride
    if (n_secrets > 1) {
      ASSERT_GT(PatternCount(*f.set), 256u);
    }
    std::uniform_int_distribution<size_t> which(0, f.patterns.size() - 1);
    for (int round = 0; round < 24; ++round) {
      std::string text;
      while (text.size() < 2500) {
        const std::string& p = f.patterns[which(rng)];
        switch (rng() % 5) {
          case 0: text += p; break;
          case 1: text += p.substr(0, p.size() - 1 - rng() % 3); break;  // a near miss
          case 2: text += p.substr(1 + rng() % 3); break;
          default: text += RandomText(rng, 1 + rng() % 200, kAlnum);
        }
      }
      const std::string expected = ReferenceMask(text, f.patterns);
      std::vector<size_t> sizes;
      for (size_t total = 0; total < text.size();) {
        sizes.push_back(1 + rng() % (round % 2 == 0 ? 40 : 1500));
        total += sizes.back();
      }
      ASSERT_EQ(OneShot(f.set, text), expected) << n_secrets << " secrets, round " << round;
      ASSERT_EQ(RunChunks(f.set, text, sizes), expected) << n_secrets << " secrets, round " << round;
    }
  }
}

TEST_P(RedactorTest, LeavesNoFormOfACanaryInAnySplit) {
  const std::string canary = testing::MakeCanary("mask");
  Fixture f = Make({canary});
  std::string text = "start ";
  for (const std::string& form : testing::CanaryForms(canary)) {
    // (CanaryForms also lists the canary's random tail alone, a leak probe, not an encoding.)
    if (form.size() >= canary.size()) text += form + " | ";
  }
  for (size_t split = 0; split <= text.size(); ++split) {
    testing::ExpectNoCanary(RunChunks(f.set, text, {split}), canary, "redacted output");
  }
}

TEST_P(RedactorTest, RunOfOneCharacterAgainstANearMissSecretStaysLinearAndBounded) {
  Fixture f = Make({"aaaaaaab"});
  const std::string text(10 * 1024 * 1024, 'a');
  Redactor r(f.set);
  std::string out;
  out.reserve(text.size() + 16);
  for (size_t at = 0; at < text.size(); at += 65536) {
    r.Feed(std::string_view(text).substr(at, 65536), out);
    ASSERT_LE(r.held_bytes(), MaxPatternLength(*f.set) - 1);
  }
  r.Feed("b", out);
  r.Finish(out);
  EXPECT_EQ(out.size(), text.size() - 7 + 3);
  EXPECT_EQ(out.substr(out.size() - 4), "a***");
  EXPECT_EQ(out.find_first_not_of('a'), text.size() - 7);
}

TEST_P(RedactorTest, RunOfOneCharacterMatchingTheSecretBecomesOneReplacement) {
  Fixture f = Make({"aaaaaaaa"});
  const std::string text(10 * 1024 * 1024, 'a');
  Redactor r(f.set);
  std::string out;
  for (size_t at = 0; at < text.size(); at += 4096) {
    r.Feed(std::string_view(text).substr(at, 4096), out);
    ASSERT_LE(r.held_bytes(), MaxPatternLength(*f.set) - 1);
  }
  r.Feed("b", out);
  r.Finish(out);
  EXPECT_EQ(out, "***b");
}

}  // namespace
}  // namespace jitsec::mask
