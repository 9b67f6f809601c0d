// The policy's YAML reader (src/policy/yaml.h). ReadSubset is held to yaml-cpp: whenever it
// returns a tree, yaml-cpp must read the same text without error into the same tree (types,
// values, tags, marks); it must take the example and test policies (or the speed-up is gone);
// and on thousands of mutations of them it may decline but never differ.
#include "policy/yaml.h"

#include "support/support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace jitsec::policy::yaml {
namespace {

namespace fs = std::filesystem;
using ::jitsec::testing::ReadTextFile;

std::string Show(const Mark& m) { return std::to_string(m.line) + ":" + std::to_string(m.column); }

// The first difference between two trees ("" when equal). An empty value's mark is left
// unknown by ReadSubset (yaml.h); every other mark must match.
std::string Diff(const Node& subset, const Node& ref, const std::string& path) {
  auto at = [&](std::string what) { return (path.empty() ? "<root>" : path) + ": " + what; };
  if (subset.type != ref.type) {
    return at("type " + std::to_string(static_cast<int>(subset.type)) + " vs " +
              std::to_string(static_cast<int>(ref.type)));
  }
  if (!(subset.IsNull() && subset.mark.is_null()) && subset.mark != ref.mark) {
    return at("mark " + Show(subset.mark) + " vs " + Show(ref.mark));
  }
  if (subset.tag != ref.tag) return at("tag '" + subset.tag + "' vs '" + ref.tag + "'");
  if (subset.scalar != ref.scalar) {
    return at("scalar '" + subset.scalar + "' vs '" + ref.scalar + "'");
  }
  if (subset.items.size() != ref.items.size()) return at("list size");
  if (subset.entries.size() != ref.entries.size()) return at("map size");
  for (size_t i = 0; i < subset.items.size(); ++i) {
    std::string d = Diff(subset.items[i], ref.items[i], path + "[" + std::to_string(i) + "]");
    if (!d.empty()) return d;
  }
  for (size_t i = 0; i < subset.entries.size(); ++i) {
    const std::string p = path + "{" + ref.entries[i].first.scalar + "}";
    std::string d = Diff(subset.entries[i].first, ref.entries[i].first, p + "<key>");
    if (d.empty()) d = Diff(subset.entries[i].second, ref.entries[i].second, p);
    if (!d.empty()) return d;
  }
  return "";
}

// "" when ReadSubset declines or agrees with yaml-cpp; else what differs.
std::string Disagreement(const std::string& text, bool* taken = nullptr) {
  std::optional<Node> subset = ReadSubset(text);
  if (taken != nullptr) *taken = subset.has_value();
  if (!subset) return "";
  Document ref = ReadWithYamlCpp(text);
  if (ref.error) return "yaml-cpp refuses it: " + ref.error->message;
  return Diff(*subset, ref.root, "");
}

std::vector<fs::path> PolicyFiles() {
  std::vector<fs::path> out;
  for (const fs::path& dir : {fs::path(JITSEC_SOURCE_DIR) / "policies",
                              fs::path(JITSEC_TEST_DATA_DIR) / "policies" / "valid",
                              fs::path(JITSEC_TEST_DATA_DIR) / "policies" / "invalid"}) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".yaml") out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PolicyYamlTest, TheSubsetReaderTakesTheExampleAndValidPoliciesAsYamlCppReadsThem) {
  size_t examples = 0;
  for (const fs::path& f : PolicyFiles()) {
    SCOPED_TRACE(f.string());
    const std::string text = ReadTextFile(f);
    bool taken = false;
    EXPECT_EQ(Disagreement(text, &taken), "");
    if (f.parent_path().filename() != "invalid") {
      EXPECT_TRUE(taken) << "outside the subset: read by yaml-cpp, slowly";
      ++examples;
    }
  }
  EXPECT_GE(examples, 10u);
}

// A fixed-seed generator (xorshift64), so that a failure can be reproduced.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t operator()(uint64_t bound) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return bound == 0 ? 0 : state_ % bound;
  }
  bool OneIn(uint64_t n) { return (*this)(n) == 0; }

 private:
  uint64_t state_;
};

// One to three edits at pseudo-random places: a character that matters to YAML (or any
// printable one) inserted, deleted or replaced; a line duplicated, deleted, re-indented, joined
// with the next one or swapped with it; "- ", ": " or " #" inserted.
std::string Mutate(std::string text, Rng& rng) {
  static constexpr std::string_view kChars = " \n:-#'\"[]{},?&*!|>%@`~\\x0\t";
  const int edits = 1 + static_cast<int>(rng(3));
  for (int e = 0; e < edits && !text.empty(); ++e) {
    const size_t at = rng(text.size());
    const size_t nl = at == 0 ? std::string::npos : text.rfind('\n', at - 1);
    const size_t line_start = nl == std::string::npos ? 0 : nl + 1;
    size_t line_end = text.find('\n', at);
    if (line_end == std::string::npos) line_end = text.size();
    const std::string line = text.substr(line_start, line_end - line_start);
    switch (rng(11)) {
      case 0: text.insert(at, 1, kChars[rng(kChars.size())]); break;
      case 1: text.erase(at, 1); break;
      case 2: text[at] = kChars[rng(kChars.size())]; break;
      case 3: text[at] = static_cast<char>(' ' + rng(95)); break;
      case 4: text.insert(line_start, line + "\n"); break;
      case 5: text.erase(line_start, std::min(line.size() + 1, text.size() - line_start)); break;
      case 6: text.insert(line_start, std::string(1 + rng(2), ' ')); break;
      case 7:
        if (text[line_start] == ' ') text.erase(line_start, 1);
        break;
      case 8:  // join with the next line
        if (line_end < text.size()) text.erase(line_end, 1);
        break;
      case 9: {  // swap with the next line
        if (line_end >= text.size()) break;
        size_t next_end = text.find('\n', line_end + 1);
        if (next_end == std::string::npos) next_end = text.size();
        const std::string next = text.substr(line_end + 1, next_end - line_end - 1);
        text.replace(line_start, next_end - line_start, next + "\n" + line);
        break;
      }
      case 10: {
        static constexpr std::string_view kPieces[] = {"- ", ": ", " #", "'", "\"", "|", "[", "{"};
        text.insert(at, kPieces[rng(std::size(kPieces))]);
        break;
      }
    }
  }
  return text;
}

// Mutated texts through Disagreement; fails on the first that differs. Returns how many of
// them the subset reader took.
size_t CheckMutations(const std::string& original, const std::string& name, int rounds, Rng& rng,
                      size_t& tried) {
  size_t taken_count = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string text = Mutate(original, rng);
    bool taken = false;
    const std::string d = Disagreement(text, &taken);
    ++tried;
    if (taken) ++taken_count;
    if (!d.empty()) {
      ADD_FAILURE() << name << " mutated: " << d << "\n--- text ---\n" << text;
      break;
    }
  }
  return taken_count;
}

TEST(PolicyYamlTest, OnMutatedPoliciesTheSubsetReaderDeclinesOrAgreesWithYamlCpp) {
  Rng rng(0x9E3779B97F4A7C15ull);
  size_t tried = 0;
  size_t taken = 0;
  for (const fs::path& f : PolicyFiles()) {
    const std::string original = ReadTextFile(f);
    if (original.empty()) continue;
    taken += CheckMutations(original, f.filename().string(), 150, rng, tried);
    if (::testing::Test::HasFailure()) return;
  }
  // The oracle must have been exercised: most single edits keep a policy in the subset.
  EXPECT_GT(taken, tried / 4) << taken << " of " << tried;
}

// Random documents built from the forms the subset reader takes and their neighbours: block
// maps and lists (lists at their key's indentation too, maps on an item's line), flow
// collections, scalars plain, quoted and literal, with characters that end or start tokens,
// comments and blank lines, at indentations of one to four spaces; each read as generated
// and with mutations.
class DocumentGenerator {
 public:
  explicit DocumentGenerator(Rng& rng) : rng_(rng) {}

  std::string Document() {
    out_.clear();
    BlockMap(0, 1 + rng_(5), 0);
    return out_;
  }

 private:
  Rng& rng_;
  std::string out_;

  std::string Scalar(bool flow) {
    static constexpr std::string_view kPlain[] = {
        "a",         "name", "x y", "a-b", "-x",   "x-", "a:b",  "a#b",  "x?",
        "release/*", "LC_*", "1",   "1.5", "true", "~",  "null", "NULL", "a.b",
        "a b  c",    "-1",   "x!",  "x&y", "x*",   "=x", "a'b",  "a\"b", "https://h/p"};
    static constexpr std::string_view kTricky[] = {
        "?x",   ":x",   "Null", "~x",       "%x", "a,b",  "@x", "`x`",  "a]",  "a}",  "a[b", "a: b",
        "x #c", "a\\b", "x\ty", "\xC3\xA9", "x:", "&a x", "*a", "!t x", "- x", "? x", "|",   ">"};
    static constexpr std::string_view kQuoted[] = {
        "''",         "'x'",      "'it''s'",       "'a: b'",      "'#x'",
        "'a\"b'",     "\"\"",     "\"x\"",         "\"a: b\"",    "\"x\\ty\"",
        "\"q\\\"q\"", "\"\\\\\"", "\"\\n\\0\\e\"", "\"\\u00e9\"", "\"\\x41\"",
        "\"\\/\"",    "\"a\\\"",  "' x '",         "\"'\"",       "'\\'"};
    if (rng_.OneIn(4)) return std::string(kQuoted[rng_(std::size(kQuoted))]);
    if (rng_.OneIn(12)) return std::string(kTricky[rng_(std::size(kTricky))]);
    std::string s(kPlain[rng_(std::size(kPlain))]);
    if (flow && s.find_first_of(",[]{}") != std::string::npos && !rng_.OneIn(4)) s = "f";
    return s;
  }

  std::string Flow(int depth) {
    const bool map = rng_.OneIn(2);
    std::string s = map ? "{" : "[";
    const uint64_t n = rng_(4);
    for (uint64_t i = 0; i < n; ++i) {
      if (i > 0) s += rng_.OneIn(8) ? "," : ", ";
      if (map) s += Scalar(true) + (rng_.OneIn(10) ? ":" : ": ");
      s += depth < 3 && rng_.OneIn(4) ? Flow(depth + 1) : Scalar(true);
    }
    if (rng_.OneIn(20)) s += ",";
    return s + (map ? "}" : "]");
  }

  void Comment() {
    if (rng_.OneIn(4)) out_ += rng_.OneIn(2) ? "  # note" : " #";
  }

  void Blank() {
    if (rng_.OneIn(6)) out_ += rng_.OneIn(2) ? "\n" : "# comment\n";
  }

  // A value after "key:" or "- " at the given indentation; the line is open.
  void Value(int indent, int depth, bool item) {
    const uint64_t kind = depth > 4 ? rng_(3) : rng_(7);
    if (kind == 0) {
      out_ += " " + Scalar(false);
      Comment();
      out_ += "\n";
    } else if (kind == 1) {
      out_ += " " + Flow(0);
      Comment();
      out_ += "\n";
    } else if (kind == 2) {
      out_ += rng_.OneIn(3) ? " |-" : " |";
      Comment();
      out_ += "\n";
      const int in = indent + 1 + static_cast<int>(rng_(3));
      for (uint64_t i = 0, n = 1 + rng_(3); i < n; ++i) {
        if (rng_.OneIn(5)) out_ += std::string(rng_(in + 2), ' ') + "\n";
        out_ += std::string(in + (rng_.OneIn(5) ? 2 : 0), ' ') + Scalar(false) + "\n";
      }
    } else if (kind == 3) {
      Comment();
      out_ += "\n";  // empty: null, unless an item (which the reader declines)
    } else {
      Comment();
      out_ += "\n";
      Blank();
      const int step = 1 + static_cast<int>(rng_(4));
      const int in = !item && rng_.OneIn(4) ? indent : indent + step;  // a list at its key's
      if (in == indent || rng_.OneIn(2)) {
        BlockSeq(in, 1 + rng_(3), depth + 1);
      } else {
        BlockMap(in, 1 + rng_(3), depth + 1);
      }
    }
  }

  void BlockMap(int indent, uint64_t n, int depth, bool first_inline = false) {
    for (uint64_t i = 0; i < n; ++i) {
      if (!(first_inline && i == 0)) out_ += std::string(indent, ' ');
      out_ += Scalar(false) + ":";
      Value(indent, depth, false);
      Blank();
    }
  }

  void BlockSeq(int indent, uint64_t n, int depth) {
    for (uint64_t i = 0; i < n; ++i) {
      out_ += std::string(indent, ' ') + "-";
      if (depth < 5 && rng_.OneIn(3)) {  // a map on the item's line
        const int gap = 1 + static_cast<int>(rng_(3));
        out_ += std::string(gap, ' ');
        BlockMap(indent + 1 + gap, 1 + rng_(2), depth + 1, true);
      } else {
        Value(indent, depth, true);
      }
      Blank();
    }
  }
};

TEST(PolicyYamlTest, OnGeneratedDocumentsTheSubsetReaderDeclinesOrAgreesWithYamlCpp) {
  Rng rng(0xD1B54A32D192ED03ull);
  DocumentGenerator gen(rng);
  size_t tried = 0;
  size_t taken = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string text = gen.Document();
    bool took = false;
    const std::string d = Disagreement(text, &took);
    ++tried;
    if (took) ++taken;
    ASSERT_EQ(d, "") << "--- text ---\n" << text;
    taken += CheckMutations(text, "generated document " + std::to_string(i), 2, rng, tried);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(taken, tried / 10) << taken << " of " << tried;
}

TEST(PolicyYamlTest, TheSubsetReaderBuildsTheTreeOfEachFormItTakes) {
  const char* const kTaken[] = {
      "a: 1\n",
      "a: 1",
      "# c\n\na: b   # c\nc:\n",
      "a: ~\nb: null\nc: NULL\nd: Null\ne: ''\nf: \"\"\n",
      "a:\n  b:\n    c: x y  z\n  d: 2\n",
      "a:\n  - x\n  - 'y''s'\n  - \"z #1\"\nb: 1\n",
      "a:\n- x\n- y\nb: 1\n",
      "a:\n  - b: 1\n    c: 2\n  -   d: 3\n  - e:\n      f: g\n",
      "a:\n  - b:\n    - x\n    c: 1\n",
      "a: [x, 'y', \"z\", [1, 2], {k: v}]\n",
      "a: {b: [main, \"release/*\"], c: x y}\n",
      "a: []\nb: {}\nc: [ ]\n",
      "\"a b\": 1\n'c': 2\n",
      "a: -x\nb: x-\nc: a:b\nd: a#b\ne: x?\nf: \"a: b\"\n",
      "a: LC_*\nb: release/*\nc: 'x'   # c\n",
      "a:\n  -\n    b: 1\n  - ~\n",
      "a: 1\n\n   \n# end\n",
      "~: 1\n",
      "a: \"x\\ty\\n\\\"q\\\" \\\\ \\0\"\n",
      "a: |\n  line 1\n\n    # not a comment\n  line 3  \n\n# a comment\nb: 1\n",
      "a: |-\n  x\n  y\nb: 1\n",
      "a:\n  - |\n    x\n  - b: |\n      y\n    c: 1\n",
      "a: | # c\n  x\n",
  };
  for (const char* text : kTaken) {
    SCOPED_TRACE(text);
    bool taken = false;
    EXPECT_EQ(Disagreement(text, &taken), "");
    EXPECT_TRUE(taken);
  }
}

TEST(PolicyYamlTest, TheSubsetReaderDeclinesWhatItDoesNotRead) {
  const char* const kDeclined[] = {
      "",
      "# only a comment\n",
      "- a\n",
      "plain\n",
      "a: &x 1\nb: *x\n",
      "a: !!str 1\n",
      "a: |+\n  text\n",
      "a: |2\n  text\n",
      "a: |\n\n  text\n",
      "a: |\n  text",
      "a: |\n  x\n y\n",
      "a: >\n  text\n",
      "a: \"x\\u00e9y\"\n",
      "a: \"x\\\n  y\"\n",
      "a: 'x\n  y'\n",
      "a: x\n  y\n",
      "a: [x,\n  y]\n",
      "a: [x, ]\n",
      "a:\tb\n",
      "a: b\r\n",
      "\xEF\xBB\xBF"
      "a: 1\n",
      "a: \xC3\xA9\n",
      "---\na: 1\n",
      "a: 1\n...\n",
      "%YAML 1.2\n---\na: 1\n",
      "? a\n: 1\n",
      "a:\n  -\n",
      "a: [~]\n",
      "a: [x:y]\n",
      "a: {x}\n",
      "a: b: c\n",
      "a : 1\n",
      "a:b\n",
      "a: 1\n b: 2\n",
      "a:\n    b: 1\n  c: 2\n",
      " a: 1\n",
      "a: - x\n",
      "a: @x\n",
      "a: `x`\n",
      "a: 'x'y\n",
      "a: \"x\"#c\n",
  };
  for (const char* text : kDeclined) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ReadSubset(text).has_value());
  }
}

TEST(PolicyYamlTest, TheSubsetReaderDeclinesNestingDeeperThanAnyPolicy) {
  auto flow = [](int depth) {
    return "a: " + std::string(depth, '[') + "x" + std::string(depth, ']') + "\n";
  };
  auto block = [](int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += std::string(i, ' ') + "k:\n";
    return text + std::string(depth, ' ') + "k: v\n";
  };
  bool taken = false;
  EXPECT_EQ(Disagreement(flow(40), &taken), "");
  EXPECT_TRUE(taken);
  EXPECT_EQ(Disagreement(block(40), &taken), "");
  EXPECT_TRUE(taken);
  EXPECT_FALSE(ReadSubset(flow(100000)).has_value());
  EXPECT_FALSE(ReadSubset(block(5000)).has_value());
}

TEST(PolicyYamlTest, TheSubsetReaderLeavesKeysYamlCppFindsTooLongToIt) {
  for (const size_t n : {1000u, 1024u, 1025u, 5000u}) {
    SCOPED_TRACE(n);
    const std::string plain(n, 'k');
    const std::string quoted = "\"" + std::string(n - 2, 'k') + "\"";
    for (const std::string& text :
         {plain + ": v\n", quoted + ": v\n", "a: {" + plain + ": v}\n", "- " + plain + ": v\n"}) {
      EXPECT_EQ(Disagreement(text), "");
    }
  }
  EXPECT_TRUE(ReadSubset(std::string(1000, 'k') + ": v\n").has_value());
  EXPECT_FALSE(ReadSubset(std::string(1025, 'k') + ": v\n").has_value());
  EXPECT_TRUE(Read(std::string(1025, 'k') + ": v\n").error.has_value());
}

TEST(PolicyYamlTest, ReadReportsYamlErrorsAliasesAndSecondDocumentsWithTheirPlace) {
  Document d = Read("a: [x\n");
  ASSERT_TRUE(d.error);
  EXPECT_TRUE(d.error->syntax);
  EXPECT_TRUE(d.error->message.starts_with("invalid YAML: ")) << d.error->message;

  d = Read("a: &x 1\nb: *x\n");
  ASSERT_TRUE(d.error);
  EXPECT_FALSE(d.error->syntax);
  EXPECT_EQ(d.error->message,
            "aliases (*name) are not supported in a policy (write the value out)");
  EXPECT_EQ(d.error->mark, (Mark{1, 3}));

  d = Read("a: 1\n---\nb: &x 1\nc: *x\n");
  ASSERT_TRUE(d.error);
  EXPECT_NE(d.error->message.find("alias"), std::string::npos) << d.error->message;

  d = Read("a: 1\n---\nb: 2\n");
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, "a policy is a single YAML document (found a second one)");
  EXPECT_EQ(d.error->mark.line, 1);

  d = Read("# nothing\n");
  EXPECT_FALSE(d.error);
  EXPECT_TRUE(d.root.IsNull());

  // Taken by either reader, the same tree.
  d = Read("a:\n  - b: 1\n");
  ASSERT_FALSE(d.error);
  ASSERT_TRUE(d.root.IsMap());
  ASSERT_EQ(d.root.size(), 1u);
  const Node& list = d.root.entries[0].second;
  ASSERT_TRUE(list.IsSequence());
  EXPECT_EQ(list.mark, (Mark{1, 2}));
  ASSERT_TRUE(list[0].IsMap());
  EXPECT_EQ(list[0].entries[0].second.Scalar(), "1");
  EXPECT_EQ(list[0].entries[0].second.Tag(), "?");
}

}  // namespace
}  // namespace jitsec::policy::yaml
