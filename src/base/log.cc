#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

namespace jitsec::log {
namespace {
std::shared_ptr<spdlog::logger>& Instance() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    auto l = std::make_shared<spdlog::logger>("jitsec", sink);
    l->set_pattern("jitsec: %l: %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return logger;
}
}  // namespace

void Init(Verbosity v) {
  auto& l = Instance();
  switch (v) {
    case Verbosity::kQuiet: l->set_level(spdlog::level::err); break;
    case Verbosity::kNormal: l->set_level(spdlog::level::warn); break;
    case Verbosity::kVerbose: l->set_level(spdlog::level::info); break;
    case Verbosity::kDebug: l->set_level(spdlog::level::debug); break;
  }
}

spdlog::logger& Logger() { return *Instance(); }

}  // namespace jitsec::log
