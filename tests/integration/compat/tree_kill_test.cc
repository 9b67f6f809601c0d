// The whole process tree dies with jitsec (security.md invariant 3, "outlive the run"), for the
// full binary: the command double-forks a grandchild into a session of its own, then jitsec is
// SIGKILLed, so no destructor, signal handler or revocation code of jitsec runs. The namespace
// init's parent-death signal and the PID namespace must take every process down. Processes are
// found by a random marker in their argv (/proc/PID/cmdline), so the check does not depend on
// which pids the namespace gave them. (tests/unit/sandbox/launch_test.cc checks the same at the
// Launch level.)
#include "base/random.h"
#include "compat_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace jitsec::testing {
namespace {

// Pids of the processes whose argv contains `marker` as a whole argument.
std::vector<pid_t> ProcessesWithArgument(const std::string& marker) {
  std::vector<pid_t> found;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) {
    ADD_FAILURE() << "opendir /proc: " << std::strerror(errno);
    return found;
  }
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::string cmdline = ReadTextFile(std::string("/proc/") + e->d_name + "/cmdline");
    for (size_t start = 0; start < cmdline.size();) {
      size_t end = cmdline.find('\0', start);
      if (end == std::string::npos) {
        end = cmdline.size();
      }
      if (cmdline.compare(start, end - start, marker) == 0) {
        found.push_back(pid_t(std::atoi(e->d_name)));
        break;
      }
      start = end + 1;
    }
  }
  ::closedir(d);
  return found;
}

using TreeKillTest = SandboxedRunTest;

TEST_F(TreeKillTest, SigkillOfJitsecKillsADetachedGrandchild) {
  WritePolicy(SandboxWithHelpersYaml());  // the probe stays visible when the build is below /tmp
  const std::string marker = "jitsec-tree-kill-" + RandomHex(8);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  auto env_map = Env();
  std::vector<std::string> envs;
  for (const auto& [k, v] : env_map) {
    envs.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& e : envs) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  // probe_ns detach-stay ignores the extra argument: it only marks the processes.
  std::vector<std::string> args{JitsecBinary(),     "run",         "--task", "t", "--",
                                Helper("probe_ns"), "detach-stay", marker};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const std::string cwd = workspace_.string();
  const std::string err_path = (home_.dir.path() / "jitsec.stderr").string();
  pid_t jitsec = ::fork();
  ASSERT_GE(jitsec, 0);
  if (jitsec == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (null_fd < 0 || err_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out[1], 1) < 0 ||
        ::dup2(err_fd, 2) < 0 || ::chdir(cwd.c_str()) != 0) {
      ::_exit(120);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(121);
  }
  ::close(out[1]);
  // The grandchild prints once it exists (after its parent exited and it is in a session of its
  // own); the command itself stays, sleeping.
  std::string first;
  char c;
  pollfd p{out[0], POLLIN, 0};
  while (first.find('\n') == std::string::npos && ::poll(&p, 1, 30000) > 0 &&
         ::read(out[0], &c, 1) == 1) {
    first += c;
  }
  ::close(out[0]);
  if (first != "grandchild\n") {
    ::kill(jitsec, SIGKILL);
    ::waitpid(jitsec, nullptr, 0);
    FAIL() << "the probe did not start its grandchild: \"" << first
           << "\"; jitsec's stderr: " << ReadTextFile(err_path);
  }
  // jitsec, the namespace init (today a fork of jitsec, same argv), the command and the
  // grandchild: at least jitsec, the command and the grandchild carry the marker.
  auto before = ProcessesWithArgument(marker);
  EXPECT_GE(before.size(), 3u);
  ASSERT_EQ(::kill(jitsec, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(jitsec, &st, 0), jitsec);
  ASSERT_TRUE(WIFSIGNALED(st));
  // Death is asynchronous (parent-death signal to the init, then the namespace teardown).
  std::vector<pid_t> left = ProcessesWithArgument(marker);
  for (int i = 0; i < 200 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = ProcessesWithArgument(marker);
  }
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) outlived jitsec, e.g. pid "
                            << left.front();
  for (pid_t pid : left) {
    ::kill(pid, SIGKILL);  // do not leave them behind for the rest of the suite
  }
}

}  // namespace
}  // namespace jitsec::testing
