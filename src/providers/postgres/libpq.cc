#include "providers/postgres/libpq.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace jitsec::providers::postgres {
namespace {

constexpr const char* kLibrary = "libpq.so.5";

struct Loaded {
  Libpq lib;
  bool ok = false;
  std::string error;
};

const Loaded& Load() {
  static const Loaded loaded = [] {
    Loaded l;
    // RTLD_LOCAL: libpq's symbols stay out of the global namespace; never unloaded.
    void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      l.error = std::string("cannot load ") + kLibrary + " (install the libpq5 package)" +
                (why != nullptr ? std::string(": ") + why : std::string());
      return l;
    }
#define JITSEC_LIBPQ_RESOLVE(name)                                                   \
  l.lib.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name));           \
  if (l.lib.name == nullptr) {                                                        \
    l.error = std::string(kLibrary) + " has no " #name " (libpq too old?)";           \
    return l;                                                                         \
  }
    JITSEC_LIBPQ_FUNCTIONS(JITSEC_LIBPQ_RESOLVE)
#undef JITSEC_LIBPQ_RESOLVE
    l.ok = true;
    return l;
  }();
  return loaded;
}

}  // namespace

Status LoadLibpq() {
  const Loaded& l = Load();
  if (!l.ok) return Fail(ErrorCode::kUnsupported, "postgres provider: " + l.error);
  return Ok();
}

const Libpq& Pq() {
  const Loaded& l = Load();
  if (!l.ok) std::abort();  // a caller skipped LoadLibpq(): a bug, not an input error
  return l.lib;
}

}  // namespace jitsec::providers::postgres
