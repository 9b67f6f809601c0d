#include "base/detached_sync.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "support/support.h"

namespace jitsec {
namespace {

using ::jitsec::testing::ReadTextFile;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

// The helper is this test's child (exit signal 0, so reaped with __WALL); its exit status is
// the step that failed, 0 when none did.
int WaitHelper(pid_t pid) {
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &st, __WALL);
  } while (r < 0 && errno == EINTR);
  EXPECT_EQ(r, pid);
  EXPECT_TRUE(WIFEXITED(st)) << st;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct Files {
  ScopedTempDir tmp;
  std::filesystem::path data = tmp / "data";
  std::filesystem::path head = tmp / "head";
  int data_fd = -1;
  int head_fd = -1;
  int dir_fd = -1;

  Files() {
    WriteTextFile(data, "records\n");
    WriteTextFile(head, "");
    data_fd = ::open(data.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    head_fd = ::open(head.c_str(), O_RDWR | O_CLOEXEC);
    dir_fd = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(data_fd, 0);
    EXPECT_GE(head_fd, 0);
    EXPECT_GE(dir_fd, 0);
  }
  ~Files() {
    ::close(data_fd);
    ::close(head_fd);
    ::close(dir_fd);
  }
};

TEST(DetachedSyncTest, SyncsThenWritesTheBytesThenExitsWithZero) {
  Files f;
  DetachedSync s;
  s.data_fd = f.data_fd;
  s.write_fd = f.head_fd;
  s.dir_fd = f.dir_fd;
  std::string bytes = "head of 2\n";
  s.bytes = bytes;
  pid_t pid = StartDetachedSync(s);
  ASSERT_GT(pid, 0) << std::strerror(errno);
  bytes.assign(bytes.size(), 'x');  // the helper works from its own copy
  EXPECT_EQ(WaitHelper(pid), 0);
  EXPECT_EQ(ReadTextFile(f.head), "head of 2\n");
  EXPECT_EQ(ReadTextFile(f.data), "records\n");
}

TEST(DetachedSyncTest, SkipsTheWriteWhenTheSyncFails) {
  Files f;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  DetachedSync s;
  s.data_fd = p[0];  // fdatasync of a pipe fails (EINVAL)
  s.write_fd = f.head_fd;
  s.bytes = "must not be written\n";
  pid_t pid = StartDetachedSync(s);
  ASSERT_GT(pid, 0) << std::strerror(errno);
  EXPECT_EQ(WaitHelper(pid), 1);
  EXPECT_EQ(ReadTextFile(f.head), "");
  ::close(p[0]);
  ::close(p[1]);
}

// The lock a caller holds through the synced file's open file description stays held while the
// helper runs and is released when it exits: here the caller is a process that exits at once
// (as `jitsec run` does), and another open file description of the file waits for the lock.
TEST(DetachedSyncTest, ALockHeldThroughTheSyncedFileIsReleasedWhenTheHelperExits) {
  Files f;
  pid_t caller = ::fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    // A description of its own (f.data_fd's is shared with the test process).
    int fd = ::open(f.data.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    int rc = fd >= 0 && ::flock(fd, LOCK_EX) == 0 ? 0 : 2;
    DetachedSync s;
    s.data_fd = fd;
    s.write_fd = f.head_fd;
    s.bytes = "written under the lock\n";
    if (rc == 0 && StartDetachedSync(s) <= 0) rc = 3;
    ::_exit(rc);  // no LOCK_UN: the helper's copy of the description holds the lock
  }
  int st = 0;
  ASSERT_EQ(::waitpid(caller, &st, 0), caller);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  int other = ::open(f.data.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(other, 0);
  ASSERT_EQ(::flock(other, LOCK_SH), 0);  // waits for the helper, if it still runs
  EXPECT_EQ(ReadTextFile(f.head), "written under the lock\n");
  ::close(other);
}

TEST(DetachedSyncTest, RefusesWhatItCannotDo) {
  Files f;
  DetachedSync none;
  errno = 0;
  EXPECT_EQ(StartDetachedSync(none), -1);
  EXPECT_EQ(errno, EINVAL);

  DetachedSync bytes_without_file;
  bytes_without_file.data_fd = f.data_fd;
  bytes_without_file.bytes = "x";
  errno = 0;
  EXPECT_EQ(StartDetachedSync(bytes_without_file), -1);
  EXPECT_EQ(errno, EINVAL);

  DetachedSync too_long;
  too_long.data_fd = f.data_fd;
  too_long.write_fd = f.head_fd;
  std::string big(DetachedSync::kMaxBytes + 1, 'x');
  too_long.bytes = big;
  errno = 0;
  EXPECT_EQ(StartDetachedSync(too_long), -1);
  EXPECT_EQ(errno, EINVAL);
}

// The helper's first step, run in a child of the test: every descriptor but the kept ones is
// closed, whatever the order of `keep` and with -1 entries.
TEST(DetachedSyncTest, CloseAllButKeepsOnlyTheNamedDescriptors) {
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // a, b, c in a row: keeping a and c must close b, the one right after a kept descriptor;
    // the report goes out on 300, and 301 right after it must be closed too.
    int a = ::open("/dev/null", O_RDONLY);
    int b = ::open("/dev/null", O_RDONLY);
    int c = ::open("/dev/null", O_RDONLY);
    if (a < 0 || b != a + 1 || c != b + 1) ::_exit(10);
    if (::dup2(report[1], 300) != 300 || ::dup2(a, 301) != 301) ::_exit(11);
    const int keep[3] = {300, c, a};
    child::CloseAllBut(keep);
    std::string open_fds;
    for (int fd = 0; fd < 1024; ++fd) {
      if (::fcntl(fd, F_GETFD) >= 0) open_fds += std::to_string(fd) + " ";
    }
    std::string line = open_fds + "| " + std::to_string(a) + " " + std::to_string(c) + " 300 ";
    ssize_t n = ::write(300, line.data(), line.size());
    ::_exit(n == ssize_t(line.size()) ? 0 : 12);
  }
  ::close(report[1]);
  std::string seen;
  char buf[256];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof buf)) > 0) seen.append(buf, size_t(n));
  ::close(report[0]);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  size_t bar = seen.find("| ");
  ASSERT_NE(bar, std::string::npos) << seen;
  EXPECT_EQ(seen.substr(0, bar), seen.substr(bar + 2)) << "open | kept";
}

}  // namespace
}  // namespace jitsec
