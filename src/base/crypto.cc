#include "base/crypto.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <strings.h>

#include <cstring>
#include <utility>

#include "base/defer.h"
#include "base/encoding.h"

namespace jitsec::crypto {
namespace {

constexpr size_t kSha256BlockBytes = 64;

struct DigestFns {
  OSSL_FUNC_digest_newctx_fn* newctx = nullptr;
  OSSL_FUNC_digest_init_fn* init = nullptr;
  OSSL_FUNC_digest_update_fn* update = nullptr;
  OSSL_FUNC_digest_final_fn* final = nullptr;
  OSSL_FUNC_digest_dupctx_fn* dupctx = nullptr;
  OSSL_FUNC_digest_freectx_fn* freectx = nullptr;
  bool complete() const { return newctx && init && update && final && dupctx && freectx; }
};

struct CipherFns {
  OSSL_FUNC_cipher_newctx_fn* newctx = nullptr;
  OSSL_FUNC_cipher_encrypt_init_fn* encrypt_init = nullptr;
  OSSL_FUNC_cipher_decrypt_init_fn* decrypt_init = nullptr;
  OSSL_FUNC_cipher_update_fn* update = nullptr;
  OSSL_FUNC_cipher_final_fn* final = nullptr;
  OSSL_FUNC_cipher_get_ctx_params_fn* get_ctx_params = nullptr;
  OSSL_FUNC_cipher_set_ctx_params_fn* set_ctx_params = nullptr;
  OSSL_FUNC_cipher_freectx_fn* freectx = nullptr;
  bool complete() const {
    return newctx && encrypt_init && decrypt_init && update && final && get_ctx_params &&
           set_ctx_params && freectx;
  }
};

// The default provider, loaded once and kept for the life of the process.
struct Provider {
  void* provctx = nullptr;
  DigestFns sha256;
  CipherFns aes256gcm;
  std::string error;  // empty when usable
};

// True when `want` is one of the colon-separated names (OpenSSL compares names caselessly).
bool HasName(const char* names, std::string_view want) {
  std::string_view rest(names);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    std::string_view name = rest.substr(0, colon);
    if (name.size() == want.size() && ::strncasecmp(name.data(), want.data(), want.size()) == 0) {
      return true;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

const OSSL_DISPATCH* Find(OSSL_PROVIDER* prov, int operation, std::string_view name) {
  int no_store = 0;
  const OSSL_ALGORITHM* algs = OSSL_PROVIDER_query_operation(prov, operation, &no_store);
  const OSSL_DISPATCH* found = nullptr;
  for (const OSSL_ALGORITHM* a = algs; a != nullptr && a->algorithm_names != nullptr; ++a) {
    if (HasName(a->algorithm_names, name)) {
      found = a->implementation;
      break;
    }
  }
  // The default provider's tables are static; unquery is a no-op there but part of the contract.
  if (algs != nullptr) OSSL_PROVIDER_unquery_operation(prov, operation, algs);
  return found;
}

Provider Load() {
  Provider p;
  OSSL_PROVIDER* prov = OSSL_PROVIDER_load(nullptr, "default");
  if (prov == nullptr) {
    ERR_clear_error();
    p.error = "OpenSSL's default provider cannot be loaded";
    return p;
  }
  p.provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
  for (const OSSL_DISPATCH* d = Find(prov, OSSL_OP_DIGEST, "SHA2-256"); d && d->function_id; ++d) {
    switch (d->function_id) {
      case OSSL_FUNC_DIGEST_NEWCTX: p.sha256.newctx = OSSL_FUNC_digest_newctx(d); break;
      case OSSL_FUNC_DIGEST_INIT: p.sha256.init = OSSL_FUNC_digest_init(d); break;
      case OSSL_FUNC_DIGEST_UPDATE: p.sha256.update = OSSL_FUNC_digest_update(d); break;
      case OSSL_FUNC_DIGEST_FINAL: p.sha256.final = OSSL_FUNC_digest_final(d); break;
      case OSSL_FUNC_DIGEST_DUPCTX: p.sha256.dupctx = OSSL_FUNC_digest_dupctx(d); break;
      case OSSL_FUNC_DIGEST_FREECTX: p.sha256.freectx = OSSL_FUNC_digest_freectx(d); break;
      default: break;
    }
  }
  for (const OSSL_DISPATCH* d = Find(prov, OSSL_OP_CIPHER, "AES-256-GCM"); d && d->function_id; ++d) {
    switch (d->function_id) {
      case OSSL_FUNC_CIPHER_NEWCTX: p.aes256gcm.newctx = OSSL_FUNC_cipher_newctx(d); break;
      case OSSL_FUNC_CIPHER_ENCRYPT_INIT: p.aes256gcm.encrypt_init = OSSL_FUNC_cipher_encrypt_init(d); break;
      case OSSL_FUNC_CIPHER_DECRYPT_INIT: p.aes256gcm.decrypt_init = OSSL_FUNC_cipher_decrypt_init(d); break;
      case OSSL_FUNC_CIPHER_UPDATE: p.aes256gcm.update = OSSL_FUNC_cipher_update(d); break;
      case OSSL_FUNC_CIPHER_FINAL: p.aes256gcm.final = OSSL_FUNC_cipher_final(d); break;
      case OSSL_FUNC_CIPHER_GET_CTX_PARAMS: p.aes256gcm.get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(d); break;
      case OSSL_FUNC_CIPHER_SET_CTX_PARAMS: p.aes256gcm.set_ctx_params = OSSL_FUNC_cipher_set_ctx_params(d); break;
      case OSSL_FUNC_CIPHER_FREECTX: p.aes256gcm.freectx = OSSL_FUNC_cipher_freectx(d); break;
      default: break;
    }
  }
  if (!p.sha256.complete()) p.error = "OpenSSL's default provider has no usable SHA2-256";
  if (!p.aes256gcm.complete()) p.error = "OpenSSL's default provider has no usable AES-256-GCM";
  return p;
}

Result<const Provider*> Default() {
  static const Provider p = Load();
  if (!p.error.empty()) return Fail(ErrorCode::kInternal, p.error);
  return &p;
}

Error OpenSslFailure(std::string_view what) {
  ERR_clear_error();
  return Error(ErrorCode::kInternal, std::string(what) + " failed (OpenSSL)");
}

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// A provider algorithm context (digest or cipher), freed (and so cleansed) by the provider.
class ProviderCtx {
 public:
  ProviderCtx(void (*free)(void*), void* ctx) : free_(free), ctx_(ctx) {}
  ProviderCtx(const ProviderCtx&) = delete;
  ProviderCtx& operator=(const ProviderCtx&) = delete;
  ProviderCtx(ProviderCtx&& o) noexcept : free_(o.free_), ctx_(std::exchange(o.ctx_, nullptr)) {}
  ProviderCtx& operator=(ProviderCtx&& o) noexcept {
    if (this != &o) {
      reset();
      free_ = o.free_;
      ctx_ = std::exchange(o.ctx_, nullptr);
    }
    return *this;
  }
  ~ProviderCtx() { reset(); }
  void reset() {
    if (ctx_ != nullptr) free_(ctx_);
    ctx_ = nullptr;
  }
  void* get() const { return ctx_; }

 private:
  void (*free_)(void*);
  void* ctx_;
};

Status FinalInto(const DigestFns& f, void* ctx, unsigned char* out) {
  size_t len = 0;
  if (f.final(ctx, out, &len, kSha256Bytes) != 1 || len != kSha256Bytes) {
    return Fail(OpenSslFailure("SHA-256"));
  }
  return Ok();
}

}  // namespace

Result<Sha256Digest> Sha256(std::string_view data) {
  JITSEC_ASSIGN_OR_RETURN(const Provider* p, Default());
  const DigestFns& f = p->sha256;
  ProviderCtx ctx(f.freectx, f.newctx(p->provctx));
  if (ctx.get() == nullptr || f.init(ctx.get(), nullptr) != 1 ||
      f.update(ctx.get(), U(data), data.size()) != 1) {
    return Fail(OpenSslFailure("SHA-256"));
  }
  Sha256Digest md{};
  JITSEC_TRY(FinalInto(f, ctx.get(), md.data()));
  return md;
}

Result<std::string> Sha256Hex(std::string_view data) {
  JITSEC_ASSIGN_OR_RETURN(Sha256Digest md, Sha256(data));
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md.data()), md.size()));
}

struct HmacSha256::State {
  const DigestFns* f = nullptr;
  ProviderCtx inner{nullptr, nullptr};  // SHA-256 state after (key ^ ipad)
  ProviderCtx outer{nullptr, nullptr};  // SHA-256 state after (key ^ opad)
};

HmacSha256::HmacSha256(std::unique_ptr<State> s) : s_(std::move(s)) {}
HmacSha256::HmacSha256(HmacSha256&&) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&&) noexcept = default;
HmacSha256::~HmacSha256() = default;

Result<HmacSha256> HmacSha256::Create(std::string_view key) {
  JITSEC_ASSIGN_OR_RETURN(const Provider* p, Default());
  const DigestFns& f = p->sha256;
  // RFC 2104: a key longer than the block is hashed first; then zero-padded to the block.
  unsigned char block[kSha256BlockBytes] = {};
  unsigned char pad[kSha256BlockBytes];
  Defer wipe([&] {
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
  });
  if (key.size() > kSha256BlockBytes) {
    JITSEC_ASSIGN_OR_RETURN(Sha256Digest hashed, Sha256(key));
    std::memcpy(block, hashed.data(), hashed.size());
    OPENSSL_cleanse(hashed.data(), hashed.size());
  } else if (!key.empty()) {
    std::memcpy(block, key.data(), key.size());
  }
  auto s = std::make_unique<State>();
  s->f = &f;
  auto keyed = [&](unsigned char x, ProviderCtx* out) -> Status {
    for (size_t i = 0; i < kSha256BlockBytes; ++i) pad[i] = block[i] ^ x;
    *out = ProviderCtx(f.freectx, f.newctx(p->provctx));
    if (out->get() == nullptr || f.init(out->get(), nullptr) != 1 ||
        f.update(out->get(), pad, sizeof pad) != 1) {
      return Fail(OpenSslFailure("HMAC-SHA-256"));
    }
    return Ok();
  };
  JITSEC_TRY(keyed(0x36, &s->inner));
  JITSEC_TRY(keyed(0x5c, &s->outer));
  return HmacSha256(std::move(s));
}

Result<Sha256Digest> HmacSha256::Mac(std::string_view data) const {
  if (!s_) return Fail(ErrorCode::kInternal, "HMAC-SHA-256 used after move");
  const DigestFns& f = *s_->f;
  Sha256Digest inner_md{};
  Defer wipe([&] { OPENSSL_cleanse(inner_md.data(), inner_md.size()); });
  {
    ProviderCtx inner(f.freectx, f.dupctx(s_->inner.get()));
    if (inner.get() == nullptr || f.update(inner.get(), U(data), data.size()) != 1) {
      return Fail(OpenSslFailure("HMAC-SHA-256"));
    }
    JITSEC_TRY(FinalInto(f, inner.get(), inner_md.data()));
  }
  ProviderCtx outer(f.freectx, f.dupctx(s_->outer.get()));
  if (outer.get() == nullptr || f.update(outer.get(), inner_md.data(), inner_md.size()) != 1) {
    return Fail(OpenSslFailure("HMAC-SHA-256"));
  }
  Sha256Digest md{};
  JITSEC_TRY(FinalInto(f, outer.get(), md.data()));
  return md;
}

Status Pbkdf2HmacSha256(std::string_view password, std::string_view salt, uint32_t iterations,
                        std::span<unsigned char> out) {
  if (iterations == 0) return Fail(ErrorCode::kInvalidArgument, "PBKDF2 needs at least one iteration");
  JITSEC_ASSIGN_OR_RETURN(HmacSha256 prf, HmacSha256::Create(password));
  std::string first(salt);
  first.append(4, '\0');
  Sha256Digest u{};
  Sha256Digest t{};
  Defer wipe([&] {
    OPENSSL_cleanse(u.data(), u.size());
    OPENSSL_cleanse(t.data(), t.size());
  });
  uint32_t block = 0;
  for (size_t done = 0; done < out.size(); done += kSha256Bytes) {
    ++block;  // INT(i): the block index, big-endian
    first[salt.size() + 0] = char(block >> 24);
    first[salt.size() + 1] = char(block >> 16);
    first[salt.size() + 2] = char(block >> 8);
    first[salt.size() + 3] = char(block);
    JITSEC_ASSIGN_OR_RETURN(u, prf.Mac(first));
    t = u;
    for (uint32_t i = 1; i < iterations; ++i) {
      JITSEC_ASSIGN_OR_RETURN(u, prf.Mac(std::string_view(reinterpret_cast<const char*>(u.data()), u.size())));
      for (size_t k = 0; k < t.size(); ++k) t[k] ^= u[k];
    }
    std::memcpy(out.data() + done, t.data(), std::min(kSha256Bytes, out.size() - done));
  }
  return Ok();
}

namespace {

Status CheckGcmSizes(std::string_view key, std::string_view nonce) {
  if (key.size() != kAesGcmKeyBytes || nonce.size() != kAesGcmNonceBytes) {
    return Fail(ErrorCode::kInvalidArgument, "AES-256-GCM needs a 32-byte key and a 12-byte nonce");
  }
  return Ok();
}

}  // namespace

Status Aes256GcmSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                     std::string_view plain, char* out) {
  JITSEC_TRY(CheckGcmSizes(key, nonce));
  JITSEC_ASSIGN_OR_RETURN(const Provider* p, Default());
  const CipherFns& f = p->aes256gcm;
  ProviderCtx c(f.freectx, f.newctx(p->provctx));
  auto* dst = reinterpret_cast<unsigned char*>(out);
  size_t len = 0;
  if (c.get() == nullptr ||
      f.encrypt_init(c.get(), U(key), key.size(), U(nonce), nonce.size(), nullptr) != 1 ||
      (!aad.empty() && f.update(c.get(), nullptr, &len, aad.size(), U(aad), aad.size()) != 1)) {
    return Fail(OpenSslFailure("AES-256-GCM setup"));
  }
  if (!plain.empty() &&
      (f.update(c.get(), dst, &len, plain.size(), U(plain), plain.size()) != 1 || len != plain.size())) {
    return Fail(OpenSslFailure("AES-256-GCM encryption"));
  }
  size_t final_len = 0;
  unsigned char tag[kAesGcmTagBytes];
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof tag),
                         OSSL_PARAM_construct_end()};
  if (f.final(c.get(), dst + plain.size(), &final_len, 0) != 1 || final_len != 0 ||
      f.get_ctx_params(c.get(), params) != 1) {
    return Fail(OpenSslFailure("AES-256-GCM encryption"));
  }
  std::memcpy(dst + plain.size(), tag, sizeof tag);
  return Ok();
}

Result<bool> Aes256GcmOpen(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view sealed, char* out) {
  JITSEC_TRY(CheckGcmSizes(key, nonce));
  if (sealed.size() < kAesGcmTagBytes) {
    return Fail(ErrorCode::kInvalidArgument, "AES-256-GCM input shorter than its tag");
  }
  JITSEC_ASSIGN_OR_RETURN(const Provider* p, Default());
  const size_t text_bytes = sealed.size() - kAesGcmTagBytes;
  unsigned char tag[kAesGcmTagBytes];
  std::memcpy(tag, sealed.data() + text_bytes, sizeof tag);
  const CipherFns& f = p->aes256gcm;
  ProviderCtx c(f.freectx, f.newctx(p->provctx));
  auto* dst = reinterpret_cast<unsigned char*>(out);
  size_t len = 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof tag),
                         OSSL_PARAM_construct_end()};
  if (c.get() == nullptr ||
      f.decrypt_init(c.get(), U(key), key.size(), U(nonce), nonce.size(), nullptr) != 1 ||
      (!aad.empty() && f.update(c.get(), nullptr, &len, aad.size(), U(aad), aad.size()) != 1) ||
      f.set_ctx_params(c.get(), params) != 1) {
    return Fail(OpenSslFailure("AES-256-GCM setup"));
  }
  bool ok = text_bytes == 0 ||
            (f.update(c.get(), dst, &len, text_bytes, U(sealed), text_bytes) == 1 && len == text_bytes);
  size_t final_len = 0;
  ok = ok && f.final(c.get(), dst + text_bytes, &final_len, 0) == 1 && final_len == 0;
  if (!ok) {
    ERR_clear_error();
    if (text_bytes > 0) OPENSSL_cleanse(out, text_bytes);
  }
  return ok;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace jitsec::crypto
