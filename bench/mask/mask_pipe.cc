// jitsec_mask_pipe: copies stdin to stdout through one mask::Redactor, as jitsec's output pump
// does. Usage: jitsec_mask_pipe [N_SECRETS=100] [BUFFER_BYTES=65536]. Secrets are generated
// (bench_text.h). Prints max RSS (getrusage) to stderr at the end.
// `jitsec_mask_pipe --generate BYTES` writes BYTES of the log-like bench text instead.
// Bench-only.
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_text.h"
#include "mask/redactor.h"

namespace {

bool WriteAll(const std::string& data) {
  size_t at = 0;
  while (at < data.size()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "--generate") {
    return WriteAll(jitsec::mask::bench::MakeLogText(std::strtoul(argv[2], nullptr, 10))) ? 0 : 1;
  }
  const size_t n_secrets = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100;
  const size_t buffer_bytes = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 65536;
  std::vector<jitsec::SecretBytes> secrets;
  for (const auto& v : jitsec::mask::bench::MakeSecrets(n_secrets)) secrets.emplace_back(v);
  std::vector<const jitsec::SecretBytes*> ptrs;
  for (const auto& s : secrets) ptrs.push_back(&s);
  auto set = jitsec::mask::Compile(ptrs);
  jitsec::mask::Redactor redactor(set);

  std::vector<char> in(buffer_bytes);
  std::string out;
  out.reserve(buffer_bytes + 4096);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, in.data(), in.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("jitsec_mask_pipe: read");
      return 1;
    }
    out.clear();
    if (n == 0) {
      redactor.Finish(out);
      if (!WriteAll(out)) return 1;
      break;
    }
    redactor.Feed(std::string_view(in.data(), static_cast<size_t>(n)), out);
    if (!WriteAll(out)) {
      std::perror("jitsec_mask_pipe: write");
      return 1;
    }
  }
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "jitsec_mask_pipe: patterns=%zu max_rss_kib=%ld\n",
               jitsec::mask::PatternCount(*set), ru.ru_maxrss);
  return 0;
}
