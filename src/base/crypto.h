// jitsec's cryptography: SHA-256, HMAC-SHA-256, PBKDF2-HMAC-SHA-256 and AES-256-GCM, all from
// OpenSSL's default provider. Parent side.
//
// Why not EVP: OpenSSL 3's EVP_*_fetch builds a method store of every algorithm of an operation
// on first use (and a name map of every legacy name), about 0.2 ms per operation type and
// 0.8 ms per run for jitsec's three (digest, cipher, MAC) -- more than the kernel needs for the
// whole sandbox. The provider's algorithm implementations are reached here through the public
// provider API (OSSL_PROVIDER_query_operation and the OSSL_FUNC_* dispatch tables, whose ABI
// OpenSSL keeps stable across 3.x): the same code EVP would call (AES-NI, SHA extensions,
// constant-time GHASH), without the method store. HMAC (RFC 2104) and PBKDF2 (RFC 8018) are
// built on the provider's SHA-256 and cross-checked against EVP in the unit tests.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"

namespace jitsec::crypto {

inline constexpr size_t kSha256Bytes = 32;
inline constexpr size_t kAesGcmKeyBytes = 32;
inline constexpr size_t kAesGcmNonceBytes = 12;
inline constexpr size_t kAesGcmTagBytes = 16;

using Sha256Digest = std::array<unsigned char, kSha256Bytes>;

// SHA-256 (FIPS 180-4). Fails (kInternal) only if OpenSSL's default provider is unavailable.
[[nodiscard]] Result<Sha256Digest> Sha256(std::string_view data);
// Lowercase hex of Sha256(data).
[[nodiscard]] Result<std::string> Sha256Hex(std::string_view data);

// HMAC-SHA-256 under one key (RFC 2104). The key's inner and outer hash states are computed
// once, so each Mac costs two hash finalisations; they are wiped when the object goes.
class HmacSha256 {
 public:
  [[nodiscard]] static Result<HmacSha256> Create(std::string_view key);
  HmacSha256(HmacSha256&&) noexcept;
  HmacSha256& operator=(HmacSha256&&) noexcept;
  ~HmacSha256();

  [[nodiscard]] Result<Sha256Digest> Mac(std::string_view data) const;

 private:
  struct State;
  explicit HmacSha256(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// PBKDF2-HMAC-SHA-256 (RFC 8018 section 5.2) into `out` (any length).
[[nodiscard]] Status Pbkdf2HmacSha256(std::string_view password, std::string_view salt,
                                      uint32_t iterations, std::span<unsigned char> out);

// AES-256-GCM with a 12-byte nonce and a 16-byte tag. Seal writes plain.size() bytes of
// ciphertext and then the tag to `out` (plain.size() + 16 bytes).
[[nodiscard]] Status Aes256GcmSeal(std::string_view key, std::string_view nonce,
                                   std::string_view aad, std::string_view plain, char* out);
// Open takes ciphertext followed by the tag and writes sealed.size() - 16 bytes to `out`.
// Returns false, with `out` wiped, when authentication fails (wrong key, tampered data);
// errors are for bad sizes (kInvalidArgument) and an unavailable provider (kInternal).
[[nodiscard]] Result<bool> Aes256GcmOpen(std::string_view key, std::string_view nonce,
                                         std::string_view aad, std::string_view sealed, char* out);

// Constant-time comparison of equal-length buffers (false when the lengths differ).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace jitsec::crypto
