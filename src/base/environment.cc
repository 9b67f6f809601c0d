#include "base/environment.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace jitsec {

std::optional<std::string> ProcessEnvironment::Get(std::string_view name) const {
  std::string n(name);
  const char* v = std::getenv(n.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::map<std::string, std::string> ProcessEnvironment::All() const {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    out.emplace(std::string(*e, size_t(eq - *e)), std::string(eq + 1));
  }
  return out;
}

std::optional<std::string> MapEnvironment::Get(std::string_view name) const {
  auto it = vars_.find(std::string(name));
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

std::string HomeDir(const Environment& env) {
  if (auto h = env.Get("HOME"); h && !h->empty()) return *h;
  struct passwd pw {};
  struct passwd* res = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &res) == 0 && res != nullptr) {
    return res->pw_dir;
  }
  return "/";
}

std::string XdgJitsecDir(const Environment& env, std::string_view xdg_var,
                         std::string_view home_fallback) {
  if (auto v = env.Get(xdg_var); v && !v->empty() && (*v)[0] == '/') return *v + "/jitsec";
  return HomeDir(env) + "/" + std::string(home_fallback) + "/jitsec";
}

}  // namespace jitsec
