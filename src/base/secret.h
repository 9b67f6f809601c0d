// SecretBytes: the only type that holds a secret value in jitsec's process. Move-only,
// best-effort mlock'ed, wiped with explicit_bzero on destruction. There is deliberately no
// conversion to std::string and no fmt formatter: logging one does not compile.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace jitsec {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::string_view data);
  explicit SecretBytes(size_t size);  // zero-filled
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const char* data() const { return data_; }
  char* mutable_data() { return data_; }
  // Explicit, greppable access to the bytes. Never pass the result to a logger.
  std::string_view Reveal() const { return {data_, size_}; }
  std::span<const std::byte> bytes() const {
    return {reinterpret_cast<const std::byte*>(data_), size_};
  }
  SecretBytes Clone() const { return SecretBytes(Reveal()); }
  // Appends bytes (reallocates into fresh locked memory and wipes the old buffer).
  void Append(std::string_view more);
  std::string Redacted() const;  // "<secret N bytes>"

 private:
  void Wipe();
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace jitsec
