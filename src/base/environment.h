// Environment: the seam through which jitsec reads process environment variables, so tests can
// substitute a fake. Parent side.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace jitsec {

class Environment {
 public:
  virtual ~Environment() = default;
  virtual std::optional<std::string> Get(std::string_view name) const = 0;
  // Every variable, by name.
  virtual std::map<std::string, std::string> All() const = 0;
};

// Reads the real process environment (environ).
class ProcessEnvironment final : public Environment {
 public:
  std::optional<std::string> Get(std::string_view name) const override;
  std::map<std::string, std::string> All() const override;
};

// A fixed set of variables (tests, and the snapshot a run works from).
class MapEnvironment final : public Environment {
 public:
  MapEnvironment() = default;
  explicit MapEnvironment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  std::optional<std::string> Get(std::string_view name) const override;
  std::map<std::string, std::string> All() const override { return vars_; }
  void Set(std::string name, std::string value) { vars_[std::move(name)] = std::move(value); }
  void Unset(const std::string& name) { vars_.erase(name); }

 private:
  std::map<std::string, std::string> vars_;
};

// XDG base directories (spec 0.8): $XDG_*_HOME when set, absolute and non-empty, else
// $HOME/<fallback>. Returns the jitsec subdirectory ("<base>/jitsec").
std::string XdgJitsecDir(const Environment& env, std::string_view xdg_var,
                         std::string_view home_fallback);
inline std::string ConfigDir(const Environment& env) {
  return XdgJitsecDir(env, "XDG_CONFIG_HOME", ".config");
}
inline std::string DataDir(const Environment& env) {
  return XdgJitsecDir(env, "XDG_DATA_HOME", ".local/share");
}
inline std::string StateDir(const Environment& env) {
  return XdgJitsecDir(env, "XDG_STATE_HOME", ".local/state");
}
// $HOME, else the passwd entry of the real uid.
std::string HomeDir(const Environment& env);

}  // namespace jitsec
