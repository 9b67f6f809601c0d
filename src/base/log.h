// The operator log: one spdlog logger named "jitsec" writing "jitsec: <level>: <message>" to
// stderr, synchronously. Never pass a SecretBytes to it (it does not compile) nor a value
// revealed from one. Parent side only.
#pragma once

#include <spdlog/spdlog.h>

namespace jitsec::log {

enum class Verbosity : int { kQuiet = 0, kNormal = 1, kVerbose = 2, kDebug = 3 };

// Installs the stderr logger (idempotent). Tests may add sinks to Logger().
void Init(Verbosity v);
spdlog::logger& Logger();

template <class... A>
void Info(fmt::format_string<A...> f, A&&... a) { Logger().info(f, std::forward<A>(a)...); }
template <class... A>
void Warn(fmt::format_string<A...> f, A&&... a) { Logger().warn(f, std::forward<A>(a)...); }
template <class... A>
void Debug(fmt::format_string<A...> f, A&&... a) { Logger().debug(f, std::forward<A>(a)...); }
template <class... A>
void Error(fmt::format_string<A...> f, A&&... a) { Logger().error(f, std::forward<A>(a)...); }

}  // namespace jitsec::log
