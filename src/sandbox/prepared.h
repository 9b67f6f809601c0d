// PreparedSandbox::Impl: everything the namespace init needs before its command, computed in the
// parent by Prepare (mount plan with its strings, Landlock rights, capability count). The
// Landlock ruleset and the seccomp program are built by Launch and sent with the command
// (exec_message.h). The child side only reads it. Internal to the sandbox module.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/landlock.h"
#include "sandbox/mount_plan.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

namespace jitsec::sandbox {

// Descriptors the init clones for one mount op (see child_apply.cc CloneSources).
size_t SourceSlots(const MountOp& op);

struct PreparedSandbox::Impl {
  SandboxPlan plan;
  MountPlan mounts;
  std::vector<std::string> rels;  // mounts.ops[i].path without the leading '/' ("" for "/")
  size_t source_count = 0;        // descriptors the init clones before attaching anything
  bool needs_staging = false;     // kDenyFile and kSecret need the staging tmpfs
  bool has_secret_files = false;  // kSecret: the init pivots only once the command came
  int landlock_abi = 0;           // 0: Landlock not enforced (the ruleset is built by Launch)
  uint64_t landlock_full = 0;     // rights for the private /tmp and /dev
  uint64_t landlock_proc = 0;     // rights for the new /proc
  uint64_t landlock_read = 0;     // rights for `file: {path}` secret mounts
  int cap_last = 40;              // /proc/sys/kernel/cap_last_cap
  std::filesystem::path seccomp_cache;  // see PrepareSeccompCached ("" : not cached)
  std::string kernel_release;
};

}  // namespace jitsec::sandbox
