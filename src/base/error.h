// Error and Result: the one error mechanism of jitsec. Every fallible function returns
// Result<T> or Status; only cli::Main turns an Error into an exit status.
// Parent side only (allocates); child-side code reports raw errno values instead.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace jitsec {

enum class ErrorCode : uint8_t {
  kInvalidArgument,
  kPolicySyntax,
  kPolicyInvalid,
  kPolicyUntrusted,
  kPolicyRefused,  // a valid policy refused this request (environment, command, when, approval)
  kUnsupported,
  kPermissionDenied,
  kNotFound,
  kCommandNotFound,      // exit 127
  kCommandNotExecutable, // exit 126
  kProviderUnavailable,
  kProviderRejected,
  kTimeout,
  kIo,
  kCorrupt,  // stored data failed an integrity check (store entry, journal, audit)
  kChildSetup,
  kRevokeFailed,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), sys_errno_(sys_errno), message_(std::move(message)) {}

  // "what: strerror(err)"; ENOSYS/EOPNOTSUPP do not change the code (callers decide).
  static Error FromErrno(ErrorCode code, std::string_view what, int err = errno);

  ErrorCode code() const { return code_; }
  int sys_errno() const { return sys_errno_; }
  const std::string& message() const { return message_; }

  // Prepends "context: " to the message.
  Error WithContext(std::string_view context) &&;
  Error WithContext(std::string_view context) const&;
  std::string ToString() const { return message_; }

 private:
  ErrorCode code_;
  int sys_errno_;
  std::string message_;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> Fail(ErrorCode code, std::string message, int sys_errno = 0) {
  return tl::unexpected<Error>(Error(code, std::move(message), sys_errno));
}
inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }
inline tl::unexpected<Error> FailErrno(ErrorCode code, std::string_view what, int err = errno) {
  return tl::unexpected<Error>(Error::FromErrno(code, what, err));
}
inline Status Ok() { return {}; }

}  // namespace jitsec

#define JITSEC_CONCAT_INNER(a, b) a##b
#define JITSEC_CONCAT(a, b) JITSEC_CONCAT_INNER(a, b)

// Returns the error of a Status/Result expression from the enclosing function.
#define JITSEC_TRY(expr)                                          \
  do {                                                            \
    auto&& jitsec_try_r_ = (expr);                                \
    if (!jitsec_try_r_) {                                         \
      return ::tl::unexpected<::jitsec::Error>(std::move(jitsec_try_r_).error()); \
    }                                                             \
  } while (0)

#define JITSEC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                     \
  auto tmp = (expr);                                                     \
  if (!tmp) {                                                            \
    return ::tl::unexpected<::jitsec::Error>(std::move(tmp).error());    \
  }                                                                      \
  lhs = std::move(*tmp)

#define JITSEC_ASSIGN_OR_RETURN(lhs, expr) \
  JITSEC_ASSIGN_OR_RETURN_IMPL(JITSEC_CONCAT(jitsec_aor_, __LINE__), lhs, expr)
