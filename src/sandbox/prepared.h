// PreparedSandbox::Impl: everything the namespace init and the command need, computed in the
// parent by Prepare (mount plan with its strings, Landlock ruleset fd, exported seccomp program,
// capability count). The child side only reads it. Internal to the sandbox module.
#pragma once

#include <cstdint>
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
  LandlockRuleset landlock;
  uint64_t landlock_full = 0;     // rights for the private /tmp and /dev
  uint64_t landlock_proc = 0;     // rights for the new /proc
  uint64_t landlock_read = 0;     // rights for `file: {path}` secret mounts
  SeccompProgram seccomp;
  int cap_last = 40;              // /proc/sys/kernel/cap_last_cap
};

}  // namespace jitsec::sandbox
