// The embedded secret store: one file per entry in a 0700 directory, each value sealed with
// AES-256-GCM (OpenSSL) under a 32-byte key kept 0600 in jitsec's config directory, with the
// entry name bound as associated data (an entry renamed or swapped fails to open).
// Parent side. OpenSSL is seen only in this directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "providers/provider.h"

namespace jitsec::providers::local_store {

// Names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. Anything else is kInvalidArgument.
Status ValidateSecretName(std::string_view name);

class LocalStore final : public SecretSource {
 public:
  // Opens (and with `create`, creates) the store directory and key file. The key is generated
  // on first use. Refuses a key file or directory that others can read or write.
  // Without `create`, a store directory that does not exist yet opens as an empty store (Get is
  // kNotFound, List is empty, Set fails); an existing one needs its key file.
  [[nodiscard]] static Result<LocalStore> Open(const std::filesystem::path& dir,
                                               const std::filesystem::path& key_file, bool create);
  LocalStore(LocalStore&&) noexcept;
  LocalStore& operator=(LocalStore&&) noexcept;
  ~LocalStore() override;

  [[nodiscard]] Status Set(std::string_view name, const SecretBytes& value);  // atomic replace
  // kNotFound when absent; kCorrupt when the entry fails authentication or is malformed.
  [[nodiscard]] Result<SecretBytes> Get(std::string_view name) const override;
  [[nodiscard]] Result<std::vector<std::string>> List() const;  // sorted
  [[nodiscard]] Status Remove(std::string_view name);            // kNotFound when absent

  const std::filesystem::path& dir() const { return dir_; }

 private:
  LocalStore(std::filesystem::path dir, SecretBytes key);
  std::filesystem::path dir_;
  SecretBytes key_;
};

// Default locations: settings.store or $XDG_DATA_HOME/jitsec/store; key: $JITSEC_STORE_KEY_FILE
// or $XDG_CONFIG_HOME/jitsec/store.key.
std::filesystem::path DefaultKeyFile(const Environment& env);
// $XDG_DATA_HOME/jitsec/store (the policy's `settings.store` overrides it).
std::filesystem::path DefaultStoreDir(const Environment& env);

// Provider "store": the value of a named secret (field "value"). Revoke is a no-op. The
// provider keeps a reference to `store`, which must outlive it. LeaseRef.provider defaults to
// "store" ("env" below); the caller overwrites it with the policy's provider name. Store and env
// leases do not expire: `expires` is time_point::max() unless the request has a ttl.
std::unique_ptr<Provider> CreateStoreProvider(const SecretSource& store);
// Provider "env": the value of a variable of jitsec's own environment (field "value").
std::unique_ptr<Provider> CreateEnvProvider(const Environment& env);

}  // namespace jitsec::providers::local_store
