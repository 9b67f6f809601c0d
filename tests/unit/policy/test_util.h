// Helpers for the policy tests: parse a text and get all diagnostics as one string.
#pragma once

#include "policy/policy.h"

#include <string>
#include <string_view>

namespace jitsec::policy::testing {

// All diagnostics of ParsePolicy(text, "p.yaml") joined by "\n"; "" when the policy is valid.
inline std::string Errors(std::string_view text, std::string_view name = "p.yaml") {
  auto r = ParsePolicy(text, name);
  if (r) return "";
  std::string out;
  for (const Diagnostic& d : r.error()) {
    if (!out.empty()) out += "\n";
    out += d.ToString();
  }
  return out;
}

// A minimal valid policy followed by `tasks_body` (indented under "tasks:").
inline std::string WithTask(std::string_view extra_top, std::string_view task_body) {
  return std::string("version: 1\n") + std::string(extra_top) + "tasks:\n  t:\n" +
         std::string(task_body);
}

}  // namespace jitsec::policy::testing
