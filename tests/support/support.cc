#include "support/support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <utility>

#include "base/encoding.h"
#include "base/random.h"

namespace jitsec::testing {
namespace fs = std::filesystem;

ScopedTempDir::ScopedTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/jitsec-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  if (p == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return;
  }
  path_ = p;
  ::chmod(p, 0700);
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  if (!path_.empty()) {
    // Make everything writable again first (tests create read-only trees).
    for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
    }
    fs::remove_all(path_, ec);
  }
}

void WriteTextFile(const fs::path& p, std::string_view text, int mode) {
  fs::create_directories(p.parent_path());
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << "open " << p << ": " << std::strerror(errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    ASSERT_GT(n, 0);
    off += size_t(n);
  }
  ::fchmod(fd, mode_t(mode));
  ::close(fd);
}

std::string ReadTextFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  ProcessResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return result;
  }
  std::vector<std::string> envs;
  for (const auto& [k, v] : options.env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  // Sources raised above every target first (before fork: the child must not allocate), so
  // that installing one target cannot overwrite a source another one still needs.
  std::vector<std::pair<int, int>> inherited;  // target, raised source
  for (const auto& [target, source] : options.inherited_fds) {
    int raised = ::fcntl(source, F_DUPFD_CLOEXEC, 256);
    if (raised < 0) {
      ADD_FAILURE() << "fcntl F_DUPFD_CLOEXEC of fd " << source << ": " << std::strerror(errno);
      return result;
    }
    inherited.emplace_back(target, raised);
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (const auto& [target, raised] : inherited) {
      if (::dup2(raised, target) < 0) ::_exit(120);  // dup2 leaves the target without CLOEXEC
    }
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(121);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(122);
  }
  for (const auto& entry : inherited) ::close(entry.second);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // Feed stdin (small inputs) and close it.
  signal(SIGPIPE, SIG_IGN);
  if (!options.stdin_data.empty()) {
    size_t off = 0;
    while (off < options.stdin_data.size()) {
      ssize_t n = ::write(in_pipe[1], options.stdin_data.data() + off, options.stdin_data.size() - off);
      if (n <= 0) break;
      off += size_t(n);
    }
  }
  ::close(in_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
  struct pollfd pfds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_count = 2;
  char buf[65536];
  bool killed = false;
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (!killed) {
        ::kill(pid, SIGKILL);
        killed = true;
        ADD_FAILURE() << "process timed out: " << argv[0];
      }
      left = std::chrono::milliseconds(1000);
    }
    int r = ::poll(pfds, 2, int(left.count()));
    if (r < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (pfds[i].fd >= 0 && (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::read(pfds[i].fd, buf, sizeof buf);
        if (n > 0) {
          (i == 0 ? result.out : result.err).append(buf, size_t(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(pfds[i].fd);
          pfds[i].fd = -1;
          --open_count;
        }
      }
    }
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  result.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return result;
}

std::string JitsecBinary() { return JITSEC_BINARY; }
std::string Helper(std::string_view name) { return std::string(JITSEC_HELPERS_DIR) + "/" + std::string(name); }
std::string HelpersDir() { return JITSEC_HELPERS_DIR; }
std::string SandboxWithHelpersYaml() {
  return "    sandbox:\n      filesystem:\n        read: [\"/\", \"" + HelpersDir() + "\"]\n";
}

ProcessResult RunJitsec(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> argv{JitsecBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, options);
}

std::map<std::string, std::string> JitsecHome::Env() const {
  std::map<std::string, std::string> env;
  env["HOME"] = (dir.path() / "home").string();
  env["XDG_CONFIG_HOME"] = (dir.path() / "home/.config").string();
  env["XDG_DATA_HOME"] = (dir.path() / "home/.local/share").string();
  env["XDG_STATE_HOME"] = (dir.path() / "home/.local/state").string();
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  env["LANG"] = "C.UTF-8";
  fs::create_directories(dir.path() / "home");
  return env;
}
fs::path JitsecHome::state() const { return dir.path() / "home/.local/state/jitsec"; }
fs::path JitsecHome::config() const { return dir.path() / "home/.config/jitsec"; }
fs::path JitsecHome::data() const { return dir.path() / "home/.local/share/jitsec"; }

std::string MakeCanary(std::string_view tag) {
  return "JITSEC-CANARY-" + std::string(tag) + "-" + RandomHex(8);
}

namespace {

// The base64 text of `canary` when it starts `offset` bytes (0, 1 or 2) after a 3-byte group
// boundary of the encoded stream, reduced to the characters whose six bits all come from the
// canary: the edge characters also hold bits of the neighbouring bytes, so they differ with
// whatever surrounds it. Every embedding of the canary in base64 text contains one of the three.
std::string Base64Core(std::string_view canary, size_t offset, Base64Alphabet alphabet) {
  const std::string encoded =
      Base64Encode(std::string(offset, 'x') + std::string(canary), alphabet, false);
  const size_t first = (8 * offset + 5) / 6;             // first character past the filler
  const size_t end = 8 * (offset + canary.size()) / 6;  // characters that end inside the canary
  return end > first ? encoded.substr(first, end - first) : std::string();
}

}  // namespace

std::vector<std::string> CanaryForms(std::string_view canary) {
  std::vector<std::string> forms{std::string(canary)};
  forms.push_back(Base64Encode(canary, Base64Alphabet::kStandard, false));
  forms.push_back(Base64Encode(canary, Base64Alphabet::kUrl, false));
  // At any offset, followed by anything: see Base64Core.
  for (size_t offset : {0, 1, 2}) {
    for (Base64Alphabet alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
      if (std::string core = Base64Core(canary, offset, alphabet); !core.empty()) {
        forms.push_back(std::move(core));
      }
    }
  }
  forms.push_back(HexEncode(canary));
  forms.push_back(HexEncode(canary, true));
  // The canary's distinctive random tail alone (catches partial leaks).
  if (canary.size() > 16) forms.push_back(std::string(canary.substr(canary.size() - 16)));
  return forms;
}

std::optional<std::string> FindCanary(std::string_view haystack, std::string_view canary) {
  for (auto& form : CanaryForms(canary)) {
    if (haystack.find(form) != std::string_view::npos) return std::move(form);
  }
  return std::nullopt;
}

void ExpectNoCanary(std::string_view haystack, std::string_view canary, std::string_view where) {
  for (const auto& form : CanaryForms(canary)) {
    EXPECT_EQ(haystack.find(form), std::string_view::npos)
        << "secret canary (form \"" << form << "\") leaked into " << where;
  }
}

void ExpectNoCanaryInTree(const fs::path& root, std::string_view canary) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
    if (it->file_size(ec) > (64u << 20)) continue;
    ExpectNoCanary(ReadTextFile(it->path()), canary, it->path().string());
  }
}

namespace {
bool ProbeUserNs() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

long LandlockAbi() { return ::syscall(444 /* landlock_create_ruleset */, nullptr, 0, 1U); }

// TIOCSTI for real: a child in a session of its own, with a fresh pty as its controlling
// terminal, pushes one byte into that terminal's input. Refused for an unprivileged caller when
// dev.tty.legacy_tiocsti is 0 (Linux 6.2+), or by a seccomp filter the tests run under.
bool ProbeTiocsti() {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return false;
  const char* name = ::grantpt(master) == 0 && ::unlockpt(master) == 0 ? ::ptsname(master) : nullptr;
  if (name == nullptr) {
    ::close(master);
    return false;
  }
  const std::string slave_name = name;
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setsid() < 0) ::_exit(2);
    int slave = ::open(slave_name.c_str(), O_RDWR | O_CLOEXEC);  // becomes the controlling tty
    char c = '\n';
    ::_exit(slave >= 0 && ::ioctl(slave, TIOCSTI, &c) == 0 ? 0 : 1);
  }
  int st = 0;
  if (pid > 0) ::waitpid(pid, &st, 0);
  ::close(master);
  return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

}  // namespace

bool HasFeature(Feature f) {
  switch (f) {
    case Feature::kUserNamespaces: return ProbeUserNs();
    case Feature::kLandlock: return LandlockAbi() >= 1;
    case Feature::kLandlockScopes: return LandlockAbi() >= 6;
    case Feature::kTiocsti: return ProbeTiocsti();
    case Feature::kDefaultSandbox:
      return HasFeature(Feature::kUserNamespaces) && HasFeature(Feature::kLandlock) &&
             HasFeature(Feature::kSeccomp);
    case Feature::kSeccomp: return ::access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0;
    case Feature::kMemfdSeal: return true;  // Linux >= 3.17
    case Feature::kPostgres:
      return ::access("/usr/lib/postgresql", X_OK) == 0;
    case Feature::kPty: return ::access("/dev/ptmx", R_OK | W_OK) == 0;
  }
  return false;
}

std::string FeatureName(Feature f) {
  switch (f) {
    case Feature::kUserNamespaces: return "unprivileged user namespaces";
    case Feature::kLandlock: return "Landlock";
    case Feature::kSeccomp: return "seccomp filters";
    case Feature::kMemfdSeal: return "memfd sealing";
    case Feature::kPostgres: return "PostgreSQL server binaries (/usr/lib/postgresql)";
    case Feature::kPty: return "pseudo-terminals";
    case Feature::kLandlockScopes: return "Landlock ABI 6 scopes (signals, abstract unix sockets)";
    case Feature::kTiocsti: return "TIOCSTI on a controlling terminal (dev.tty.legacy_tiocsti=1)";
    case Feature::kDefaultSandbox:
      return "the default sandbox (unprivileged user namespaces, Landlock and seccomp filters)";
  }
  return "?";
}

bool SandboxMustWork() {
  const char* must = std::getenv("JITSEC_SANDBOX_MUST_WORK");
  return must != nullptr && std::string(must) == "1";
}

bool HasFeatureForPart(Feature f) {
  if (HasFeature(f)) return true;
  if (SandboxMustWork()) {
    ADD_FAILURE() << "required feature missing: " << FeatureName(f);
  } else {
    std::cout << "note: part of this test skipped, feature not available here: " << FeatureName(f)
              << std::endl;
  }
  return false;
}

namespace {

bool WriteProcFile(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  if (fd >= 0) ::close(fd);
  return ok;
}

bool CreateEmpty(const char* path) {
  int fd = ::open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  return fd >= 0 && ::close(fd) == 0;
}

}  // namespace

SyslogCapture CaptureSyslog(const fs::path& scratch, const std::function<int()>& body) {
  SyslogCapture result;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  const std::string uid = std::to_string(::getuid());
  const std::string gid = std::to_string(::getgid());
  const std::string parked = (scratch / "syslog-capture-devnull").string();
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    ::close(out[0]);
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) ::_exit(1);
    if (!WriteProcFile("/proc/self/setgroups", "deny") ||
        !WriteProcFile("/proc/self/uid_map", uid + " " + uid + " 1") ||
        !WriteProcFile("/proc/self/gid_map", gid + " " + gid + " 1")) {
      ::_exit(2);
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        !CreateEmpty(parked.c_str()) ||
        ::mount("/dev/null", parked.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") != 0 || !CreateEmpty("/dev/null") ||
        ::mount(parked.c_str(), "/dev/null", nullptr, MS_BIND, nullptr) != 0) {
      ::_exit(3);
    }
    int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, "/dev/log");
    if (sock < 0 || ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(4);
    int rc = body();
    if (rc != 0) ::_exit(rc);
    // Each message followed by a NUL (syslog(3) sends none).
    std::string got;
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT)) > 0) got.append(buf, size_t(n)).push_back('\0');
    ::_exit(::write(out[1], got.data(), got.size()) == ssize_t(got.size()) ? 0 : 5);
  }
  ::close(out[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) got.append(buf, size_t(n));
  }
  ::close(out[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  for (size_t pos = 0; pos < got.size();) {
    size_t end = got.find('\0', pos);
    result.messages.push_back(got.substr(pos, end - pos));
    pos = end + 1;
  }
  return result;
}

std::optional<std::string> SyslogText(const std::string& message, int priority,
                                      std::string_view ident) {
  const std::regex header("<" + std::to_string(priority) +
                          R"(>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d )" + std::string(ident) +
                          R"(\[\d+\]: )");
  std::smatch m;
  if (!std::regex_search(message, m, header, std::regex_constants::match_continuous)) {
    return std::nullopt;
  }
  return m.suffix().str();
}

}  // namespace jitsec::testing
