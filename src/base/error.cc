#include "base/error.h"

#include <cstring>

namespace jitsec {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kPolicySyntax: return "policy syntax";
    case ErrorCode::kPolicyInvalid: return "policy invalid";
    case ErrorCode::kPolicyUntrusted: return "policy untrusted";
    case ErrorCode::kPolicyRefused: return "refused by policy";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kCommandNotFound: return "command not found";
    case ErrorCode::kCommandNotExecutable: return "command not executable";
    case ErrorCode::kProviderUnavailable: return "provider unavailable";
    case ErrorCode::kProviderRejected: return "provider rejected";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kIo: return "i/o";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kChildSetup: return "child setup";
    case ErrorCode::kRevokeFailed: return "revoke failed";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

Error Error::FromErrno(ErrorCode code, std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(code, std::move(msg), err);
}

Error Error::WithContext(std::string_view context) && {
  std::string msg(context);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return std::move(*this);
}

Error Error::WithContext(std::string_view context) const& {
  Error copy = *this;
  return std::move(copy).WithContext(context);
}

}  // namespace jitsec
