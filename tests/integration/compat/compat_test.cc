// Compatibility: ordinary tools keep working inside the DEFAULT sandbox of `jitsec run`
// (issue 3): a shell pipeline, git status/commit in the workspace, make with cc, python3, node,
// psql to a local PostgreSQL over its unix socket, curl to a loopback server with
// `network: host`. Each test asserts the tool's real output (and, where the tool writes, what the
// host sees afterwards). A missing tool skips its test with the reason; a missing kernel feature
// skips (or fails under JITSEC_SANDBOX_MUST_WORK=1) in the fixture.
#include "compat_fixture.h"
#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

// CI (CI=true, JITSEC_SANDBOX_MUST_WORK=1) installs every tool these tests use with
// scripts/deps.sh and runs them as root: there a missing tool or a user the test cannot become
// is a failure, so that a green run cannot hide a compatibility test that never ran.
bool EverythingMustRun() {
  const char* ci = std::getenv("CI");
  return SandboxMustWork() || (ci != nullptr && std::string(ci) == "true");
}

#define SKIP_OR_FAIL_IN_CI(message)                                              \
  do {                                                                           \
    if (EverythingMustRun()) {                                                   \
      FAIL() << message << " (required: CI=true or JITSEC_SANDBOX_MUST_WORK=1)"; \
    }                                                                            \
    GTEST_SKIP() << message;                                                     \
  } while (0)

#define SKIP_UNLESS_TOOL(name)                                                            \
  do {                                                                                    \
    if (FindTool(name).empty()) {                                                         \
      SKIP_OR_FAIL_IN_CI(name << " is not installed in /usr/local/bin, /usr/bin or /bin " \
                              << "(scripts/deps.sh installs it)");                        \
    }                                                                                     \
  } while (0)

using CompatTest = SandboxedRunTest;

TEST_F(CompatTest, ShellPipelineWorks) {
  WritePolicy();
  auto r =
      Run({"/bin/sh", "-c",
           "printf 'pear\\napple\\npear\\nfig\\npear\\n' | sort | uniq -c | sort -rn | head -n 1 "
           "| tr -s ' '; printf 'pear\\napple\\npear\\nfig\\n' | sort | uniq -c | wc -l"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, " 3 pear\n3\n");
}

TEST_F(CompatTest, GitStatusAndCommitWorkInTheWorkspace) {
  SKIP_UNLESS_TOOL("git");
  const std::string git = FindTool("git");
  ASSERT_TRUE(InitGitRepository());
  RunOptions o;
  o.env = home_.Env();
  o.cwd = workspace_;
  WriteTextFile(workspace_ / "hello.txt", "hello\n", 0644);
  WritePolicy();
  auto r = Run({"/bin/sh", "-c",
                "git status --porcelain && git add hello.txt && git status --porcelain && "
                "git -c user.name=Sandboxed -c user.email=sandboxed@example.invalid "
                "commit -q -m 'commit from the sandbox' && git log --format='%s by %an'"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "?? hello.txt\nA  hello.txt\ncommit from the sandbox by Sandboxed\n") << r.err;
  // The commit is in the host's repository, not in a copy.
  auto log = RunProcess({git, "log", "--format=%s", "--name-only"}, o);
  ASSERT_EQ(log.status, 0) << log.err;
  EXPECT_EQ(log.out, "commit from the sandbox\n\nhello.txt\n");
}

TEST_F(CompatTest, MakeBuildsAndRunsACProgramWithCc) {
  SKIP_UNLESS_TOOL("make");
  SKIP_UNLESS_TOOL("cc");
  SKIP_UNLESS_TOOL("git");
  ASSERT_TRUE(InitGitRepository());
  WriteTextFile(workspace_ / "hello.c",
                "#include <stdio.h>\n"
                "int main(void) { printf(\"built in the sandbox: %d\\n\", 6 * 7); return 0; }\n",
                0644);
  // A recipe line must start with a tab.
  WriteTextFile(workspace_ / "Makefile",
                "all: hello\n\t./hello\n"
                "hello: hello.o\n\tcc -o hello hello.o\n"
                "hello.o: hello.c\n\tcc -O1 -c -o hello.o hello.c\n",
                0644);
  WritePolicy();
  auto r = Run({"make", "-s"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "built in the sandbox: 42\n") << r.err;
  EXPECT_TRUE(fs::exists(workspace_ / "hello"));
  // And the host can run what the sandbox built.
  RunOptions o;
  o.env = home_.Env();
  auto host = RunProcess({(workspace_ / "hello").string()}, o);
  EXPECT_EQ(host.out, "built in the sandbox: 42\n");
}

// A workspace that is not a git repository: the default `protect` entries (inside .git) do not
// apply, so its top level is not frozen and `make` creates its files there. An explicit
// `protect:` of a missing path still freezes (SandboxLaunchTest, ProtectedPathThatDoesNotExist...).
TEST_F(CompatTest, MakeWorksInAWorkspaceThatIsNotARepository) {
  SKIP_UNLESS_TOOL("make");
  SKIP_UNLESS_TOOL("cc");
  WriteTextFile(workspace_ / "hello.c", "int main(void) { return 0; }\n", 0644);
  WriteTextFile(workspace_ / "Makefile", "hello: hello.c\n\tcc -o hello hello.c\n", 0644);
  WritePolicy();
  auto r = Run({"make", "-s"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(workspace_ / "hello"));
}

TEST_F(CompatTest, Python3Runs) {
  SKIP_UNLESS_TOOL("python3");
  SKIP_UNLESS_TOOL("git");
  ASSERT_TRUE(InitGitRepository());
  WritePolicy();
  // Imports from the standard library, a temporary file in the private /tmp, a file in the
  // workspace.
  auto r =
      Run({"python3", "-c",
           "import json, tempfile, pathlib\n"
           "with tempfile.NamedTemporaryFile('w+') as f:\n"
           "    f.write('tmp-ok'); f.flush(); f.seek(0); tmp = f.read()\n"
           "pathlib.Path('py.json').write_text(json.dumps({'sum': sum(range(10)), 'tmp': tmp}))\n"
           "print(pathlib.Path('py.json').read_text())\n"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "{\"sum\": 45, \"tmp\": \"tmp-ok\"}\n") << r.err;
  EXPECT_EQ(ReadTextFile(workspace_ / "py.json"), "{\"sum\": 45, \"tmp\": \"tmp-ok\"}");
}

TEST_F(CompatTest, NodeRuns) {
  if (FindTool("node").empty()) {
    SKIP_OR_FAIL_IN_CI("node is not installed (the nodejs package; scripts/deps.sh installs it)");
  }
  SKIP_UNLESS_TOOL("git");
  ASSERT_TRUE(InitGitRepository());
  WritePolicy();
  // Worker threads (clone without namespace flags), timers, promises and file writes.
  auto r = Run({"node", "-e",
                "const fs = require('fs');\n"
                "const { Worker } = require('worker_threads');\n"
                "const w = new Worker('require(\"worker_threads\").parentPort.postMessage(6 * 7)',"
                " { eval: true });\n"
                "w.on('message', async (v) => {\n"
                "  await new Promise((r) => setTimeout(r, 10));\n"
                "  fs.writeFileSync('node.txt', 'worker said ' + v);\n"
                "  console.log(fs.readFileSync('node.txt', 'utf8'));\n"
                "});\n"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "worker said 42\n") << r.err;
  EXPECT_EQ(ReadTextFile(workspace_ / "node.txt"), "worker said 42");
}

TEST_F(CompatTest, PsqlReachesALocalServerOverItsUnixSocketWithNetworkNone) {
  JITSEC_SKIP_UNLESS(Feature::kPostgres);
  SKIP_UNLESS_TOOL("psql");
  auto server = PostgresServer::Start();
  ASSERT_NE(server, nullptr) << "the test PostgreSQL server did not start";
  // The socket lives below /tmp, which is private in the sandbox: the socket directory has to
  // be named readable. The network stays `none` (the default): a pathname unix socket is a
  // file, not part of the network namespace.
  WritePolicy("    sandbox:\n      network: none\n      filesystem:\n        read: [\"/\", \"" +
              server->socket_dir() + "\"]\n");
  auto r = Run({"psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", server->socket_dir(), "-p",
                std::to_string(server->port()), "-U", PostgresServer::kBootstrapUser, "-d",
                PostgresServer::kDatabase, "-c",
                "select 6 * 7, current_database(), inet_server_addr() is null"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "42|app|t\n") << r.err;  // inet_server_addr() is null over a unix socket
}

TEST_F(CompatTest, PsqlCannotSeeASocketBelowThePrivateTmpUnlessItIsNamed) {
  JITSEC_SKIP_UNLESS(Feature::kPostgres);
  SKIP_UNLESS_TOOL("psql");
  auto server = PostgresServer::Start();
  ASSERT_NE(server, nullptr) << "the test PostgreSQL server did not start";
  ASSERT_EQ(server->socket_dir().rfind("/tmp/", 0), 0u) << server->socket_dir();
  WritePolicy();
  auto r = Run({"psql", "-X", "-At", "-h", server->socket_dir(), "-p",
                std::to_string(server->port()), "-U", PostgresServer::kBootstrapUser, "-d",
                PostgresServer::kDatabase, "-c", "select 1"});
  EXPECT_EQ(r.status, 2) << r.out << r.err;  // psql: connection failed
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

// Issue 3 and security.md invariant 7: the sandbox needs no privileges. CI runs the suite as
// root, so this test drops to an ordinary user itself (setpriv to nobody) and runs the default
// sandbox from that user's own jitsec home and workspace; run as an ordinary user, it runs as
// that user.
TEST_F(CompatTest, AnOrdinaryUserCanRunTheDefaultSandbox) {
  const bool as_root = ::geteuid() == 0;
  const uid_t uid = as_root ? 65534 : ::getuid();  // nobody
  const gid_t gid = as_root ? 65534 : ::getgid();
  if (as_root && FindTool("setpriv").empty()) {
    SKIP_OR_FAIL_IN_CI("setpriv (util-linux) is not installed: cannot drop to an ordinary user");
  }
  ASSERT_TRUE(InitGitRepository());
  WritePolicy();
  RunOptions o;
  o.env = Env();
  o.cwd = workspace_;
  // The binary nobody runs: the build's own, or, when the build directory is below a path
  // nobody cannot reach (a clone in root's home), a copy of it in the home that becomes theirs.
  std::string jitsec = JitsecBinary();
  auto nobody_can_execute = [&](const std::string& path) {
    return RunProcess({FindTool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups",
                       "--", "/usr/bin/test", "-x", path},
                      o)
               .status == 0;
  };
  if (as_root && !nobody_can_execute(jitsec)) {
    const fs::path copy = home_.dir.path() / "bin/jitsec";
    fs::create_directories(copy.parent_path());
    fs::copy_file(JitsecBinary(), copy);
    fs::permissions(copy, fs::perms(0755));
    jitsec = copy.string();
  }
  if (as_root) {
    // Everything below the temporary home becomes the user's (the policy must be theirs too).
    for (const auto& e : fs::recursive_directory_iterator(home_.dir.path())) {
      ASSERT_EQ(::lchown(e.path().c_str(), uid, gid), 0)
          << e.path() << ": " << std::strerror(errno);
    }
    ASSERT_EQ(::chown(home_.dir.path().c_str(), uid, gid), 0);
  }
  std::vector<std::string> argv{
      jitsec, "run",     "--task", "t",
      "--",   "/bin/sh", "-c",     "id -u; echo written > out.txt; cat out.txt"};
  if (as_root) {
    argv.insert(argv.begin(),
                {FindTool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
    if (!nobody_can_execute(jitsec)) {
      SKIP_OR_FAIL_IN_CI("nobody cannot execute " << jitsec << " (a temporary directory below "
                                                  << "a private path): run this test as an "
                                                  << "ordinary user instead");
    }
  }
  auto r = RunProcess(argv, o);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, std::to_string(uid) + "\nwritten\n") << r.err;
}

// A one-shot HTTP/1.0 server on the host's 127.0.0.1 (an ephemeral port): answers every
// connection with `body` and remembers the request line of the first one.
class LoopbackHttpServer {
 public:
  explicit LoopbackHttpServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string first_request_line() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_request_line_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        continue;
      }
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 5000) <= 0) {
          break;
        }
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        req.append(buf, size_t(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (first_request_line_.empty()) {
          first_request_line_ = req.substr(0, req.find("\r\n"));
        }
      }
      std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      (void)!::write(c, resp.data(), resp.size());
      ::close(c);
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string first_request_line_;
  std::thread thread_;
};

TEST_F(CompatTest, CurlReachesALoopbackServerWithNetworkHost) {
  SKIP_UNLESS_TOOL("curl");
  LoopbackHttpServer server("hello from the host loopback\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/compat?x=1";
  WritePolicy("    sandbox:\n      network: host\n");
  auto r = Run({"curl", "-sS", "--max-time", "20", url});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "hello from the host loopback\n") << r.err;
  EXPECT_EQ(server.first_request_line(), "GET /compat?x=1 HTTP/1.1");

  // The same request under the default `network: none` cannot reach it: it is `host` that
  // made the difference.
  WritePolicy();
  auto none = Run({"curl", "-sS", "--max-time", "20", url});
  EXPECT_EQ(none.status, 7) << none.out << none.err;  // curl: failed to connect
  EXPECT_EQ(none.out, "");
}

}  // namespace
}  // namespace jitsec::testing
