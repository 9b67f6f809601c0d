// SecretBytes' memory: locked, excluded from core dumps, zeroed when handed out and wiped when
// released, for small values (pooled) and large ones (own mapping).
#include "base/secret.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace jitsec {
namespace {

// The VmFlags line of the mapping that contains `p` (/proc/self/smaps).
std::string VmFlagsOf(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= addr && addr < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return {};
}

// AddressSanitizer intercepts mlock and ignores it ("AddressSanitizer ignores mlock").
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMlockWorks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kMlockWorks = false;
#else
constexpr bool kMlockWorks = true;
#endif
#else
constexpr bool kMlockWorks = true;
#endif

bool MayLock(size_t bytes) {
  if (!kMlockWorks) return false;
  struct rlimit rl {};
  return ::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 4 * bytes);
}

TEST(SecretBytesTest, ValuesOfEverySizeRoundTripAndDoNotOverlap) {
  std::vector<SecretBytes> live;
  std::vector<std::string> expect;
  for (size_t n : {1, 15, 16, 17, 31, 32, 33, 100, 2047, 2048, 2049, 5000, 70000}) {
    std::string v(n, '\0');
    for (size_t i = 0; i < n; ++i) v[i] = char('a' + (i + n) % 26);
    live.emplace_back(v);
    expect.push_back(v);
  }
  for (size_t i = 0; i < live.size(); ++i) EXPECT_EQ(live[i].Reveal(), expect[i]) << i;
}

TEST(SecretBytesTest, SizedValuesStartZeroedEvenFromReusedMemory) {
  { SecretBytes s(std::string(40, 'S')); }
  SecretBytes z(size_t{40});  // the same size class: the block just released, wiped
  EXPECT_EQ(z.Reveal(), std::string(40, '\0'));
}

TEST(SecretBytesTest, ReleasedSmallValuesAreWipedInPlace) {
  const char* where = nullptr;
  {
    SecretBytes s(std::string_view("CANARY-small-secret-value"));
    where = s.data();
  }
  // Pooled memory stays mapped, so the released block can be inspected: wiped, except for the
  // free list's link in its first word.
  for (size_t i = sizeof(void*); i < 25; ++i) EXPECT_EQ(where[i], '\0') << i;
  EXPECT_NE(std::string_view(where, sizeof(void*)), std::string_view("CANARY-small").substr(0, sizeof(void*)));
}

TEST(SecretBytesTest, MemoryIsLockedAndNotDumped) {
  SecretBytes small(std::string_view("CANARY-locked"));
  SecretBytes large(std::string(10000, 'L'));
  for (const SecretBytes* s : {&small, &large}) {
    const std::string flags = VmFlagsOf(s->data());
    ASSERT_FALSE(flags.empty());
    EXPECT_NE(flags.find(" dd"), std::string::npos) << flags;  // MADV_DONTDUMP
    if (MayLock(16 * 1024)) {
      EXPECT_NE(flags.find(" lo"), std::string::npos) << flags;  // mlock
    }
  }
}

TEST(SecretBytesTest, AppendGrowsAcrossSizeClasses) {
  SecretBytes s;
  std::string expect;
  for (int i = 0; i < 300; ++i) {
    std::string part = std::to_string(i) + ",";
    s.Append(part);
    expect += part;
  }
  EXPECT_EQ(s.Reveal(), expect);
  SecretBytes moved = std::move(s);
  EXPECT_EQ(moved.Reveal(), expect);
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
}

}  // namespace
}  // namespace jitsec
