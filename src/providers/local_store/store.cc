#include "providers/local_store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "base/random.h"
#include "base/unique_fd.h"
#include "providers/local_store/key_file.h"

namespace jitsec::providers::local_store {
namespace {

// Entry file: magic, version, 12-byte nonce, ciphertext, 16-byte GCM tag.
constexpr std::string_view kMagic = "JITSEC-STORE\n";
constexpr char kVersion = 1;
constexpr size_t kHeaderBytes = kMagic.size() + 1;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr std::string_view kAadPrefix{"jitsec-store-v1\0", 16};
constexpr std::string_view kSuffix = ".secret";
constexpr size_t kMaxNameBytes = 128;
static_assert(kNonceBytes == crypto::kAesGcmNonceBytes && kTagBytes == crypto::kAesGcmTagBytes);

bool IsNameChar(char c, bool first) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '.' || c == '_' || c == '-');
}

// The name as it may appear in a message: escaped, and shortened when long.
std::string ShowName(std::string_view name) {
  if (name.size() > 40) return JsonEscape(name.substr(0, 40)) + "...";
  return JsonEscape(name);
}

std::string Aad(std::string_view name) {
  std::string aad(kAadPrefix);
  aad.append(name);
  return aad;
}

Error AuthFailure(std::string_view name) {
  return Error(ErrorCode::kCorrupt, "store entry \"" + std::string(name) +
                                        "\" failed authentication (tampered, corrupt, or a "
                                        "different key)");
}

Error NotFound(std::string_view name) {
  return Error(ErrorCode::kNotFound, "secret \"" + std::string(name) +
                                         "\" not found in the store (jitsec secret set " +
                                         std::string(name) + ")");
}

Result<std::string> Seal(const SecretBytes& key, std::string_view name, const SecretBytes& value) {
  std::string out;
  out.reserve(kHeaderBytes + kNonceBytes + value.size() + kTagBytes);
  out.append(kMagic);
  out.push_back(kVersion);
  std::string nonce(kNonceBytes, '\0');
  FillRandom(nonce.data(), nonce.size());
  out.append(nonce);

  const size_t start = out.size();
  out.resize(start + value.size() + kTagBytes);
  JITSEC_TRY(crypto::Aes256GcmSeal(key.Reveal(), nonce, Aad(name), value.Reveal(), out.data() + start));
  return out;
}

// Decrypts straight into locked memory; any failure (short, bad magic, bad tag) is kCorrupt.
Result<SecretBytes> Unseal(const SecretBytes& key, std::string_view name, std::string_view blob) {
  if (blob.size() < kHeaderBytes + kNonceBytes + kTagBytes ||
      blob.substr(0, kMagic.size()) != kMagic || blob[kMagic.size()] != kVersion) {
    return Fail(AuthFailure(name));
  }
  const std::string_view nonce = blob.substr(kHeaderBytes, kNonceBytes);
  const std::string_view sealed = blob.substr(kHeaderBytes + kNonceBytes);
  SecretBytes plain(sealed.size() - kTagBytes);
  JITSEC_ASSIGN_OR_RETURN(bool authentic,
                          crypto::Aes256GcmOpen(key.Reveal(), nonce, Aad(name), sealed, plain.mutable_data()));
  if (!authentic) return Fail(AuthFailure(name));  // `plain` is wiped (and by its destructor)
  return plain;
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", unsigned(mode & 07777));
  return buf;
}

// The store directory must be a real directory of ours that nobody else can read or write.
Status CheckStoreDir(const std::filesystem::path& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return FailErrno(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     "cannot open store directory \"" + dir.string() + "\"");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kPermissionDenied,
                "store directory \"" + dir.string() + "\" is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    return Fail(ErrorCode::kPermissionDenied,
                "store directory \"" + dir.string() + "\" is owned by uid " +
                    std::to_string(st.st_uid) + ", not by you (uid " +
                    std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return Fail(ErrorCode::kPermissionDenied,
                "store directory \"" + dir.string() + "\" is accessible by other users (mode " +
                    Octal(st.st_mode) + "); fix: chmod 700 " + dir.string());
  }
  return Ok();
}

}  // namespace

Status ValidateSecretName(std::string_view name) {
  if (name.empty()) return Fail(ErrorCode::kInvalidArgument, "secret name is empty");
  if (name.size() > kMaxNameBytes) {
    return Fail(ErrorCode::kInvalidArgument, "secret name \"" + ShowName(name) +
                                                 "\" is longer than " +
                                                 std::to_string(kMaxNameBytes) + " characters");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0)) {
      return Fail(ErrorCode::kInvalidArgument,
                  "secret name \"" + ShowName(name) + "\" is not allowed (use letters, digits, " +
                      "'.', '_' and '-', starting with a letter or digit)");
    }
  }
  return Ok();
}

std::filesystem::path DefaultKeyFile(const Environment& env) {
  if (auto v = env.Get("JITSEC_STORE_KEY_FILE"); v && !v->empty()) return *v;
  return std::filesystem::path(ConfigDir(env)) / "store.key";
}

std::filesystem::path DefaultStoreDir(const Environment& env) {
  return std::filesystem::path(DataDir(env)) / "store";
}

LocalStore::LocalStore(std::filesystem::path dir, SecretBytes key)
    : dir_(std::move(dir)), key_(std::move(key)) {}
LocalStore::LocalStore(LocalStore&&) noexcept = default;
LocalStore& LocalStore::operator=(LocalStore&&) noexcept = default;
LocalStore::~LocalStore() = default;

Result<LocalStore> LocalStore::Open(const std::filesystem::path& dir,
                                    const std::filesystem::path& key_file, bool create) {
  if (create) {
    JITSEC_TRY(EnsureDirectory(dir, 0700));
    JITSEC_TRY(CheckStoreDir(dir));
    JITSEC_ASSIGN_OR_RETURN(SecretBytes key, LoadOrCreateKeyFile(key_file, "store key"));
    return LocalStore(dir, std::move(key));
  }
  Status dir_ok = CheckStoreDir(dir);
  if (!dir_ok) {
    // No store yet: an empty store that needs no key (Get says "not found", List is empty).
    if (dir_ok.error().code() == ErrorCode::kNotFound) return LocalStore(dir, SecretBytes());
    return Fail(dir_ok.error());
  }
  JITSEC_ASSIGN_OR_RETURN(SecretBytes key, ReadKeyFile(key_file, "store key"));
  return LocalStore(dir, std::move(key));
}

Status LocalStore::Set(std::string_view name, const SecretBytes& value) {
  JITSEC_TRY(ValidateSecretName(name));
  if (key_.empty()) {
    return Fail(ErrorCode::kInternal,
                "store \"" + dir_.string() + "\" was opened read-only and does not exist yet");
  }
  JITSEC_ASSIGN_OR_RETURN(std::string blob, Seal(key_, name, value));
  return WriteFileAtomic(dir_ / (std::string(name) + std::string(kSuffix)), blob, 0600)
      .map_error([&](Error e) {
        return std::move(e).WithContext("storing secret \"" + std::string(name) + "\"");
      });
}

Result<SecretBytes> LocalStore::Get(std::string_view name) const {
  JITSEC_TRY(ValidateSecretName(name));
  const std::filesystem::path path = dir_ / (std::string(name) + std::string(kSuffix));
  auto blob = ReadFile(path, /*nofollow=*/true);
  if (!blob) {
    if (blob.error().code() == ErrorCode::kNotFound) return Fail(NotFound(name));
    if (blob.error().sys_errno() == ELOOP) return Fail(AuthFailure(name));
    return Fail(blob.error());
  }
  if (key_.empty()) return Fail(NotFound(name));
  return Unseal(key_, name, *blob);
}

Result<std::vector<std::string>> LocalStore::List() const {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return FailErrno(ErrorCode::kIo, "cannot list store directory \"" + dir_.string() + "\"");
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view file = e->d_name;
    if (file.size() <= kSuffix.size() || file.substr(file.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    std::string_view name = file.substr(0, file.size() - kSuffix.size());
    if (!ValidateSecretName(name)) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status LocalStore::Remove(std::string_view name) {
  JITSEC_TRY(ValidateSecretName(name));
  const std::filesystem::path path = dir_ / (std::string(name) + std::string(kSuffix));
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return Fail(ErrorCode::kNotFound, "secret \"" + std::string(name) + "\" not found in the store");
    }
    return FailErrno(ErrorCode::kIo, "cannot remove \"" + path.string() + "\"");
  }
  UniqueFd dfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) (void)::fsync(dfd.get());
  return Ok();
}

}  // namespace jitsec::providers::local_store
