// Documentation tests: man/jitsec.1 and the three shell completions cover every command and
// option the built jitsec reports in its --help (help is parsed here, in tests only;
// completions never parse it), man/jitsec-policy.5 documents every key of policy::Schema(),
// and both man pages are lint-clean. Completions are also driven through real bash, fish and
// zsh when those shells are installed.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "policy/schema.h"
#include "support/support.h"

namespace jitsec {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::RunOptions;

fs::path SourceDir() { return fs::path(JITSEC_SOURCE_DIR); }

std::string ReadSource(const std::string& rel) {
  return testing::ReadTextFile(SourceDir() / rel);
}

// Absolute path of a program in the usual system directories, or "" when absent.
std::string FindProgram(const std::string& name) {
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin"}) {
    fs::path p = fs::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) {
      return p.string();
    }
  }
  return "";
}

// An empty working directory of its own: relative --policy values ("run", "tasks") must name
// nothing, whatever directory the test binary was started from (from "/", "run" is /run).
RunOptions PlainEnv() {
  static const testing::ScopedTempDir cwd;
  ::chmod(cwd.path().c_str(), 0755);
  RunOptions o;
  o.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"LANG", "C.UTF-8"},
           {"HOME", "/nonexistent"}, {"TERM", "dumb"}};
  o.cwd = cwd.path();
  return o;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    out.push_back(line);
  }
  return out;
}

// Roff source → plain text good enough to search: font escapes dropped, \- → -, \& dropped.
std::string NormalizeRoff(const std::string& roff) {
  std::string out;
  for (size_t i = 0; i < roff.size(); ++i) {
    if (roff[i] == '\\' && i + 1 < roff.size()) {
      char c = roff[i + 1];
      if (c == '-') {
        out += '-';
        ++i;
        continue;
      }
      if (c == '&') {
        ++i;
        continue;
      }
      if (c == 'f' && i + 2 < roff.size()) {
        i += 2;
        continue;
      }
    }
    out += roff[i];
  }
  return out;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

// `text` contains `token` not glued to other word characters on either side.
bool ContainsToken(const std::string& text, const std::string& token) {
  for (size_t pos = text.find(token); pos != std::string::npos; pos = text.find(token, pos + 1)) {
    bool left_ok = pos == 0 || !IsWordChar(text[pos - 1]);
    size_t end = pos + token.size();
    bool right_ok = end >= text.size() || !IsWordChar(text[end]);
    if (left_ok && right_ok) {
      return true;
    }
  }
  return false;
}

// One command of the CLI as its --help describes it.
struct Command {
  std::vector<std::string> path;         // e.g. {"secret", "set"}
  std::vector<std::string> options;      // e.g. {"-h", "--help", "--task"}
  std::vector<std::string> subcommands;  // e.g. {"set", "list", "rm"}
  std::string Name() const {
    std::string s;
    for (const auto& p : path) {
      s += (s.empty() ? "" : " ") + p;
    }
    return s;
  }
};

// Parses CLI11 2.1 help: "Options:" lines "  -h,--help  text", "  --task NAME REQUIRED";
// "Subcommands:" lines "  run  text".
void ParseHelp(const std::string& help, Command& cmd) {
  enum class Section { kOther, kOptions, kSubcommands } section = Section::kOther;
  for (const auto& line : Lines(help)) {
    if (line.empty()) {
      continue;
    }
    if (line[0] != ' ') {
      section = line.rfind("Options:", 0) == 0       ? Section::kOptions
                : line.rfind("Subcommands:", 0) == 0 ? Section::kSubcommands
                                                     : Section::kOther;
      continue;
    }
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (section == Section::kOptions && !first.empty() && first[0] == '-') {
      std::istringstream names(first);
      for (std::string name; std::getline(names, name, ',');) {
        auto eq = name.find('=');  // "--policy=FILE" style, if any
        cmd.options.push_back(name.substr(0, eq));
      }
    } else if (section == Section::kSubcommands && !first.empty()) {
      cmd.subcommands.push_back(first);
    }
  }
}

std::string Help(const std::vector<std::string>& path) {
  std::vector<std::string> args = path;
  args.push_back("--help");
  ProcessResult r = testing::RunJitsec(args, PlainEnv());
  EXPECT_EQ(r.status, 0) << "jitsec " << ::testing::PrintToString(args) << ": " << r.err;
  return r.out;
}

// The whole command tree, from `jitsec --help` down (commands listed before their children).
std::vector<Command> CommandTree() {
  std::vector<Command> all;
  Command top;
  ParseHelp(Help({}), top);
  all.push_back(top);
  for (size_t i = 0; i < all.size(); ++i) {
    std::vector<std::string> subs = all[i].subcommands;
    for (const auto& sub : subs) {
      Command c;
      c.path = all[i].path;
      c.path.push_back(sub);
      ParseHelp(Help(c.path), c);
      all.push_back(c);
    }
  }
  return all;
}

const std::vector<Command>& Tree() {
  static const std::vector<Command> tree = CommandTree();
  return tree;
}

const Command& TopLevel() { return Tree().front(); }

bool IsGlobalOption(const std::string& option) {
  const auto& g = TopLevel().options;
  return std::find(g.begin(), g.end(), option) != g.end();
}

// The text of the man page section whose .SS heading starts with "jitsec <name>".
std::string ManSection(const std::string& man, const std::string& name) {
  std::string out;
  bool in = false;
  for (const auto& line : Lines(man)) {
    if (line.rfind(".SS", 0) == 0 || line.rfind(".SH", 0) == 0) {
      std::string heading = line.substr(3);
      heading.erase(std::remove(heading.begin(), heading.end(), '"'), heading.end());
      while (!heading.empty() && heading[0] == ' ') {
        heading.erase(0, 1);
      }
      std::string want = "jitsec " + name;
      in = heading.rfind(want, 0) == 0 &&
           (heading.size() == want.size() || heading[want.size()] == ' ');
      if (in) {
        out += line + "\n";
      }
      continue;
    }
    if (in) {
      out += line + "\n";
    }
  }
  return out;
}

std::string ManSh(const std::string& man, const std::string& sh) {
  std::string out;
  bool in = false;
  for (const auto& line : Lines(man)) {
    if (line.rfind(".SH", 0) == 0) {
      in = line == ".SH " + sh || line == ".SH \"" + sh + "\"";
      continue;
    }
    if (in) {
      out += line + "\n";
    }
  }
  return out;
}

TEST(DocsCliTest, HelpOfTheBuiltBinaryListsTheCommands) {
  // Guards the tests below against passing vacuously on a help text they cannot parse.
  const auto& top = TopLevel();
  for (const char* cmd : {"run", "explain", "check", "tasks", "secret", "leases", "audit",
                          "doctor", "version"}) {
    EXPECT_NE(std::find(top.subcommands.begin(), top.subcommands.end(), cmd),
              top.subcommands.end())
        << "jitsec --help does not list \"" << cmd << "\"";
  }
  EXPECT_TRUE(IsGlobalOption("--policy")) << "jitsec --help does not list --policy";
  EXPECT_GE(Tree().size(), 15u);
}

// main builds only the parser of the command a command line names (NamedCommand): a value of
// --policy that is also a command's name is still the policy, global options go before or
// after the command, and a command line that names none gets the full parser's messages.
TEST(DocsCliTest, TheCommandIsFoundPastGlobalOptionsAndTheirValues) {
  ProcessResult r = testing::RunJitsec({"--policy", "run", "check"}, PlainEnv());
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "run: policy file not found (give one with --policy or $JITSEC_POLICY)\n");
  r = testing::RunJitsec({"-vq", "--policy=tasks", "tasks", "-v"}, PlainEnv());
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "jitsec: error: tasks: policy file not found (give one with --policy or $JITSEC_POLICY)\n");
  r = testing::RunJitsec({"--bogus", "check"}, PlainEnv());
  EXPECT_EQ(r.status, 125);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  r = testing::RunJitsec({"bogus"}, PlainEnv());
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "jitsec: error: A subcommand is required\nRun with --help for more information.\n");
  // Every command the full help lists is also a command line's command on its own.
  for (const auto& cmd : TopLevel().subcommands) {
    SCOPED_TRACE(cmd);
    r = testing::RunJitsec({"-q", cmd, "--help"}, PlainEnv());
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("Usage: jitsec " + cmd), std::string::npos) << r.out;
  }
}

// A command's help lists only its own options; it points at the global ones, which every
// command accepts (before or after its name).
TEST(DocsCliTest, EveryCommandsHelpNamesTheGlobalOptions) {
  for (const auto& cmd : Tree()) {
    if (cmd.path.empty()) {
      continue;
    }
    const std::string help = Help(cmd.path);
    EXPECT_NE(help.find("\nGlobal options: --policy FILE, -v/--verbose, -q/--quiet (see jitsec --help)\n"),
              std::string::npos)
        << "jitsec " << cmd.Name() << " --help:\n" << help;
  }
}

TEST(DocsManTest, JitsecPageHasASectionWithEveryOptionOfEveryCommand) {
  const std::string man = NormalizeRoff(ReadSource("man/jitsec.1"));
  const std::string options_sh = ManSh(man, "OPTIONS");
  for (const auto& opt : TopLevel().options) {
    EXPECT_TRUE(ContainsToken(options_sh, opt))
        << "global option " << opt << " is not in OPTIONS of man/jitsec.1";
  }
  for (const auto& cmd : Tree()) {
    if (cmd.path.empty()) {
      continue;
    }
    const std::string section = ManSection(man, cmd.Name());
    EXPECT_FALSE(section.empty()) << "man/jitsec.1 has no .SS \"jitsec " << cmd.Name() << "...\"";
    if (!cmd.subcommands.empty()) {
      continue;  // a group (secret, leases, audit): its children have the sections
    }
    for (const auto& opt : cmd.options) {
      if (IsGlobalOption(opt)) {
        continue;  // documented once, under OPTIONS
      }
      EXPECT_TRUE(ContainsToken(section, opt))
          << "option " << opt << " of \"jitsec " << cmd.Name()
          << "\" is not in its section of man/jitsec.1";
    }
  }
}

TEST(DocsManTest, JitsecPageDocumentsEveryEnvironmentVariableOfTheContract) {
  const std::string env = ManSh(NormalizeRoff(ReadSource("man/jitsec.1")), "ENVIRONMENT");
  for (const char* var : {"JITSEC_POLICY", "JITSEC_ENV", "JITSEC_STORE_KEY_FILE",
                          "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"}) {
    EXPECT_TRUE(ContainsToken(env, var)) << var << " is not in ENVIRONMENT of man/jitsec.1";
  }
}

TEST(DocsManTest, PolicyPageKeyReferenceMatchesTheSchemaExactly) {
  const std::string ref = ManSh(NormalizeRoff(ReadSource("man/jitsec-policy.5")), "KEY REFERENCE");
  ASSERT_FALSE(ref.empty()) << "man/jitsec-policy.5 has no KEY REFERENCE section";
  std::set<std::string> documented;
  std::vector<std::string> lines = Lines(ref);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i] == ".TP" && lines[i + 1].rfind(".B ", 0) == 0) {
      documented.insert(lines[i + 1].substr(3));
    }
  }
  std::set<std::string> schema;
  for (const auto& key : policy::Schema()) {
    schema.insert(std::string(key.path));
    EXPECT_TRUE(documented.count(std::string(key.path)))
        << "schema key " << key.path << " is not in KEY REFERENCE of man/jitsec-policy.5";
  }
  EXPECT_GE(schema.size(), 50u);
  for (const auto& path : documented) {
    EXPECT_TRUE(schema.count(path))
        << "man/jitsec-policy.5 documents \"" << path << "\", which is not a schema key";
  }
}

class DocsCompletionFileTest : public ::testing::TestWithParam<const char*> {};

TEST_P(DocsCompletionFileTest, NamesEveryCommandAndOption) {
  const std::string text = ReadSource(GetParam());
  for (const auto& cmd : Tree()) {
    for (const auto& sub : cmd.subcommands) {
      EXPECT_TRUE(ContainsToken(text, sub)) << GetParam() << " lacks command \"" << sub << "\"";
    }
    for (const auto& opt : cmd.options) {
      // zsh writes short/long pairs as {-v,--verbose}; both tokens still appear. fish declares
      // options as `-l verbose` / `-s v`.
      const bool fish = std::string(GetParam()).ends_with(".fish");
      const std::string token = !fish                  ? opt
                                : opt.rfind("--", 0) == 0 ? "-l " + opt.substr(2)
                                                          : "-s " + opt.substr(1);
      EXPECT_TRUE(ContainsToken(text, token))
          << GetParam() << " lacks option " << opt << " of \"jitsec " << cmd.Name() << "\"";
    }
  }
}

TEST_P(DocsCompletionFileTest, GetsDynamicValuesFromQuietListingsNotHelp) {
  const std::string text = ReadSource(GetParam());
  EXPECT_NE(text.find("tasks --names"), std::string::npos);
  EXPECT_NE(text.find("tasks --environments"), std::string::npos);
  EXPECT_NE(text.find("secret list"), std::string::npos);
  EXPECT_EQ(text.find("--help)"), std::string::npos) << "completions must not parse --help";
  EXPECT_EQ(text.find("--help |"), std::string::npos) << "completions must not parse --help";
}

INSTANTIATE_TEST_SUITE_P(AllShells, DocsCompletionFileTest,
                         ::testing::Values("completions/bash/jitsec", "completions/zsh/_jitsec",
                                           "completions/fish/jitsec.fish"));

// The words a shell offers at the end of `words` (the last one is the word being completed).
using Completer = std::vector<std::string> (*)(const std::vector<std::string>& words,
                                               const RunOptions& options);

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::vector<std::string> FirstFields(const std::string& out) {
  std::vector<std::string> v;
  for (const auto& line : Lines(out)) {
    if (!line.empty()) {
      v.push_back(line.substr(0, line.find('\t')));
    }
  }
  return v;
}

std::vector<std::string> BashComplete(const std::vector<std::string>& words,
                                      const RunOptions& options) {
  std::string script = "source " + ShellQuote((SourceDir() / "completions/bash/jitsec").string()) +
                       "\nCOMP_WORDS=(";
  for (const auto& w : words) {
    script += ShellQuote(w) + " ";
  }
  script +=
      ")\nCOMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\nCOMP_LINE=\"${COMP_WORDS[*]}\"\n"
      "COMP_POINT=${#COMP_LINE}\n"
      "_jitsec jitsec \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
  ProcessResult r = testing::RunProcess({FindProgram("bash"), "--norc", "--noprofile", "-c", script},
                                        options);
  EXPECT_EQ(r.status, 0) << r.err;
  return FirstFields(r.out);
}

std::vector<std::string> FishComplete(const std::vector<std::string>& words,
                                      const RunOptions& options) {
  std::string line;
  for (const auto& w : words) {
    line += (line.empty() ? "" : " ") + w;
  }
  std::string script = "source " + ShellQuote((SourceDir() / "completions/fish/jitsec.fish").string()) +
                       "; complete -C " + ShellQuote(line);
  ProcessResult r = testing::RunProcess({FindProgram("fish"), "--no-config", "-c", script}, options);
  EXPECT_EQ(r.status, 0) << r.err;
  return FirstFields(r.out);
}

std::vector<std::string> ZshComplete(const std::vector<std::string>& words,
                                     const RunOptions& options) {
  std::string line;
  for (const auto& w : words) {
    line += (line.empty() ? "" : " ") + w;
  }
  ProcessResult r = testing::RunProcess(
      {FindProgram("zsh"), "-f", (SourceDir() / "tests/packaging/zsh-complete.zsh").string(),
       (SourceDir() / "completions/zsh").string(), line},
      options);
  EXPECT_EQ(r.status, 0) << r.err;
  return FirstFields(r.out);
}

struct Shell {
  const char* name;
  Completer complete;
};
void PrintTo(const Shell& shell, std::ostream* os) { *os << shell.name; }

class DocsCompletionShellTest : public ::testing::TestWithParam<Shell> {
 protected:
  void SetUp() override {
    if (FindProgram(GetParam().name).empty()) {
      GTEST_SKIP() << GetParam().name << " is not installed (CI installs it)";
    }
  }
};

void ExpectOffers(const std::vector<std::string>& got, const std::string& want,
                  const std::string& context) {
  EXPECT_NE(std::find(got.begin(), got.end(), want), got.end())
      << context << " should offer \"" << want << "\"; got " << ::testing::PrintToString(got);
}

TEST_P(DocsCompletionShellTest, OffersEveryCommandAndEveryOptionOfEachCommand) {
  for (const auto& cmd : Tree()) {
    std::vector<std::string> words{"jitsec"};
    words.insert(words.end(), cmd.path.begin(), cmd.path.end());
    if (!cmd.subcommands.empty()) {
      words.push_back("");
      auto got = GetParam().complete(words, PlainEnv());
      for (const auto& sub : cmd.subcommands) {
        ExpectOffers(got, sub, std::string(GetParam().name) + " after \"jitsec " + cmd.Name() + "\"");
      }
      continue;
    }
    words.push_back("--");
    auto got = GetParam().complete(words, PlainEnv());
    for (const auto& opt : cmd.options) {
      if (opt.rfind("--", 0) == 0) {
        ExpectOffers(got, opt, std::string(GetParam().name) + " for \"jitsec " + cmd.Name() + " --\"");
      }
    }
  }
}

TEST_P(DocsCompletionShellTest, OffersTaskAndEnvironmentNamesOfThePolicyOnTheLine) {
  testing::ScopedTempDir dir;
  const fs::path policy = dir / "policy.yaml";
  testing::WriteTextFile(policy,
                         "version: 1\n"
                         "environments:\n  qa-east: {}\n"
                         "tasks:\n"
                         "  zebra-build: {environments: [qa-east]}\n"
                         "  zebra-test: {}\n",
                         0600);
  RunOptions env = PlainEnv();
  env.env["HOME"] = dir.path().string();
  const std::string jitsec = testing::JitsecBinary();
  auto tasks = GetParam().complete({jitsec, "--policy", policy.string(), "run", "--task", "zebra"}, env);
  ExpectOffers(tasks, "zebra-build", std::string(GetParam().name) + " for --task");
  ExpectOffers(tasks, "zebra-test", std::string(GetParam().name) + " for --task");
  auto envs = GetParam().complete({jitsec, "--policy", policy.string(), "run", "--env", "qa"}, env);
  ExpectOffers(envs, "qa-east", std::string(GetParam().name) + " for --env");
}

TEST_P(DocsCompletionShellTest, CompletesACommandAfterTheSeparator) {
  auto got = GetParam().complete({"jitsec", "run", "--task", "x", "--", "ech"}, PlainEnv());
  ExpectOffers(got, "echo", std::string(GetParam().name) + " after --");
}

INSTANTIATE_TEST_SUITE_P(RealShells, DocsCompletionShellTest,
                         ::testing::Values(Shell{"bash", &BashComplete}, Shell{"fish", &FishComplete},
                                           Shell{"zsh", &ZshComplete}),
                         [](const ::testing::TestParamInfo<Shell>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST(DocsManTest, PagesPassMandocLintWithoutWarnings) {
  const std::string mandoc = FindProgram("mandoc");
  if (mandoc.empty()) {
    GTEST_SKIP() << "mandoc is not installed (CI installs it)";
  }
  for (const char* page : {"man/jitsec.1", "man/jitsec-policy.5"}) {
    ProcessResult r = testing::RunProcess(
        {mandoc, "-T", "lint", "-W", "warning", (SourceDir() / page).string()}, PlainEnv());
    EXPECT_EQ(r.status, 0) << page;
    EXPECT_EQ(r.out + r.err, "") << page;
  }
}

TEST(DocsManTest, PagesRenderWithGroffWithoutWarnings) {
  const std::string groff = FindProgram("groff");
  if (groff.empty()) {
    GTEST_SKIP() << "groff is not installed";
  }
  for (const char* page : {"man/jitsec.1", "man/jitsec-policy.5"}) {
    ProcessResult r = testing::RunProcess(
        {groff, "-ww", "-man", "-Tutf8", "-z", (SourceDir() / page).string()}, PlainEnv());
    EXPECT_EQ(r.status, 0) << page;
    EXPECT_EQ(r.out + r.err, "") << page;
  }
}

}  // namespace
}  // namespace jitsec
