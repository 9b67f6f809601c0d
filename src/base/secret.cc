#include "base/secret.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace jitsec {
namespace {

char* AllocLocked(size_t capacity) {
  if (capacity == 0) return nullptr;
  void* p = std::calloc(1, capacity);
  if (p == nullptr) throw std::bad_alloc();
  // Best effort: RLIMIT_MEMLOCK may be small; the bytes are still wiped on free.
  (void)::mlock(p, capacity);
  return static_cast<char*>(p);
}

void FreeLocked(char* p, size_t capacity) {
  if (p == nullptr) return;
  explicit_bzero(p, capacity);
  (void)::munlock(p, capacity);
  std::free(p);
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
