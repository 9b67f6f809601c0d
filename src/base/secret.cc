#include "base/secret.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <utility>

namespace jitsec {
namespace {

// Locked memory for secrets. Small values (up to kMaxSmall bytes, rounded up to a power of two)
// come from 16 KiB chunks that are mmap'ed, mlock'ed and excluded from core dumps once, and are
// wiped and kept on a free list per size when released: one mlock per chunk instead of an
// mlock/munlock pair per value (each of which split the heap's VMA: 3% of a run's CPU), and no
// munlock of a page that another live secret still shares. Larger values get their own
// mapping. Locking is best effort (RLIMIT_MEMLOCK may be small); wiping is not.
constexpr size_t kChunkBytes = 16 * 1024;
constexpr size_t kMinShift = 4;   // 16 bytes
constexpr size_t kMaxShift = 11;  // 2 KiB
constexpr size_t kMaxSmall = size_t{1} << kMaxShift;

struct FreeBlock {
  FreeBlock* next;
};

class LockedPool {
 public:
  char* Allocate(size_t capacity) {
    if (capacity > kMaxSmall) return MapLarge(capacity);
    const size_t cls = ClassOf(capacity);
    std::lock_guard<std::mutex> lock(mu_);
    if (FreeBlock* b = free_[cls]) {
      free_[cls] = b->next;
      b->next = nullptr;  // blocks are handed out zeroed
      return reinterpret_cast<char*>(b);
    }
    const size_t bytes = size_t{1} << (cls + kMinShift);
    if (chunk_left_ < bytes) {
      void* p = ::mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      (void)::madvise(p, kChunkBytes, MADV_DONTDUMP);
      (void)::mlock(p, kChunkBytes);
      chunk_ = static_cast<char*>(p);  // the rest of the previous chunk is simply not used
      chunk_left_ = kChunkBytes;
    }
    char* out = chunk_;
    chunk_ += bytes;
    chunk_left_ -= bytes;
    return out;
  }

  void Release(char* p, size_t capacity) {
    if (capacity > kMaxSmall) {
      const size_t len = PageRound(capacity);
      explicit_bzero(p, capacity);
      (void)::munmap(p, len);  // unlocks too
      return;
    }
    const size_t cls = ClassOf(capacity);
    explicit_bzero(p, size_t{1} << (cls + kMinShift));
    std::lock_guard<std::mutex> lock(mu_);
    auto* b = reinterpret_cast<FreeBlock*>(p);
    b->next = free_[cls];
    free_[cls] = b;
  }

 private:
  static size_t ClassOf(size_t capacity) {
    size_t cls = 0;
    while ((size_t{1} << (cls + kMinShift)) < capacity) ++cls;
    return cls;
  }
  static size_t PageRound(size_t n) {
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    return (n + page - 1) / page * page;
  }
  static char* MapLarge(size_t capacity) {
    const size_t len = PageRound(capacity);
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    (void)::madvise(p, len, MADV_DONTDUMP);
    (void)::mlock(p, len);
    return static_cast<char*>(p);
  }

  std::mutex mu_;
  FreeBlock* free_[kMaxShift - kMinShift + 1] = {};
  char* chunk_ = nullptr;
  size_t chunk_left_ = 0;
};

// Never destroyed: secrets in static storage may be released after other statics are gone.
LockedPool& Pool() {
  static LockedPool* pool = new LockedPool();
  return *pool;
}

char* AllocLocked(size_t capacity) {
  if (capacity == 0) return nullptr;
  return Pool().Allocate(capacity);  // zero-filled: fresh pages, or wiped when released
}

void FreeLocked(char* p, size_t capacity) {
  if (p == nullptr) return;
  Pool().Release(p, capacity);
}

}  // namespace

SecretBytes::SecretBytes(std::string_view data)
    : data_(AllocLocked(data.size())), size_(data.size()), capacity_(data.size()) {
  if (size_ != 0) std::memcpy(data_, data.data(), size_);
}

SecretBytes::SecretBytes(size_t size) : data_(AllocLocked(size)), size_(size), capacity_(size) {
  if (size_ != 0) std::memset(data_, 0, size_);
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Wipe(); }

void SecretBytes::Wipe() {
  FreeLocked(data_, capacity_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

void SecretBytes::Append(std::string_view more) {
  if (more.empty()) return;
  if (size_ + more.size() <= capacity_) {
    std::memcpy(data_ + size_, more.data(), more.size());
    size_ += more.size();
    return;
  }
  size_t cap = (size_ + more.size()) * 2;
  char* p = AllocLocked(cap);
  if (size_ != 0) std::memcpy(p, data_, size_);
  std::memcpy(p + size_, more.data(), more.size());
  size_t new_size = size_ + more.size();
  FreeLocked(data_, capacity_);
  data_ = p;
  size_ = new_size;
  capacity_ = cap;
}

std::string SecretBytes::Redacted() const {
  return "<secret " + std::to_string(size_) + " bytes>";
}

}  // namespace jitsec
