// The mount plan: the ordered list of mount operations the namespace init performs to build the
// command's root, computed in the parent from a SandboxPlan (it looks at the file system through
// a small seam so that ordering and the protect/deny rules are unit-tested without a kernel).
// It does not mount anything itself. Parent side; the init only reads the result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "sandbox/sandbox.h"

namespace jitsec::sandbox {

enum class MountKind : uint8_t {
  kBindReadOnly,   // rbind a host tree, recursively read-only
  kBindWritable,   // rbind a host tree as it is
  kPrivateTmp,     // a fresh tmpfs (mode 1777): /tmp in `write`
  kFreeze,         // see below: `path` read-only, its existing entries re-bound writable
  kProtect,        // rbind the host path onto itself, recursively read-only
  kDenyDir,        // an empty, mode 000, read-only tmpfs on top
  kDenyFile,       // an empty, mode 000 file from the staging tmpfs, bound read-only on top
  kMirror,         // a tmpfs on `path` re-populated with its entries (see below)
  kSecret,         // a copy of a delivered memfd, bound read-only at `path`
  kPin,            // rbind a directory of a writable tree onto itself (see below)
};
std::string_view MountKindName(MountKind k);

// A protected (or denied/hidden) path that does not exist yet must stay impossible to create,
// but the kernel cannot mount on a name that does not exist, and creating a placeholder on the
// host is a side effect outside the run. jitsec therefore "freezes" the nearest existing
// ancestor A when A is writable inside: A is bound read-only (no entry can be created, renamed
// or removed directly in A) and every entry A had at prepare time is bound back as it was (so
// its content stays writable). The cost, reported as a plan warning: new entries cannot be
// created directly in A during the run.
//
// A `file: {path: T}` delivery is a sealed memfd, and the kernel refuses to bind-mount a memfd
// (it lives on an internal mount). The init copies its content into a mode 0400 file on a
// private staging tmpfs (memory, like the memfd; never the host's disk) and binds that file
// read-only at T. When T does not exist, its mount point cannot be created on the host view
// without a side effect (or at all, below a read-only tree): the nearest existing ancestor A is
// then "mirrored": a tmpfs on A holding, for every entry A has, a mount point with the host
// entry bound back (read-only unless A is writable inside) or the same symbolic link, plus the
// directories leading to T. The mirror is made read-only once T's mount point exists.
// The kernel refuses to rename or remove a mount point (EBUSY) but not its parent: renaming a
// parent directory would carry a protected path's mount away and free its name for a new file
// on the host (`mv .git g && mkdir -p .git/hooks`). Every directory of a writable tree on the
// way from the tree's root down to another mount (a protected, frozen, denied, mirrored or
// secret path, or a nested tree) is therefore "pinned": bound onto itself as it is, writable,
// so that it cannot be renamed, exchanged or removed during the run.
struct MirrorEntry {
  std::string name;
  enum class Type : uint8_t { kDir, kFile, kLink } type = MirrorEntry::Type::kFile;
  std::string link_target;  // kLink
};

struct MountOp {
  MountKind kind = MountKind::kBindReadOnly;
  std::string path;  // absolute, normalised; the same path on the host and inside
  bool is_dir = true;  // what the mount point must be if it has to be created
  std::vector<std::string> writable_entries;  // kFreeze: names in `path` re-bound as they are
  std::vector<MirrorEntry> mirror;            // kMirror: the entries of `path` on the host
  bool mirror_writable = false;               // kMirror: entries re-bound as they are
  std::vector<std::string> create_files;      // kMirror: secret mount points below `path`
  int secret_fd_target = -1;                  // kSecret: the child's fd number of the memfd
};

// What the mount planner needs to know about a host path (lstat semantics).
struct PathInfo {
  bool exists = false;
  bool is_dir = false;
  bool is_symlink = false;
};
class PathLookup {
 public:
  virtual ~PathLookup() = default;
  virtual PathInfo Stat(const std::filesystem::path& p) const = 0;
  // Names in a directory (no "." or ".."), sorted; empty when unreadable.
  virtual std::vector<std::string> List(const std::filesystem::path& dir) const = 0;
  // The path with every symbolic link resolved (missing trailing components kept as written).
  virtual std::filesystem::path Canonical(const std::filesystem::path& p) const = 0;
  // The target of a symbolic link (empty when it is none).
  virtual std::string ReadLink(const std::filesystem::path& p) const = 0;
};
// The real file system.
const PathLookup& HostPaths();

struct MountPlan {
  std::vector<MountOp> ops;  // in the order the init applies them
  std::vector<std::string> warnings;
};

// Orders the plan's trees and overlays by path depth (so that a mount never hides one made for
// a deeper path), writes before reads for the same path, overlays after trees at the same depth.
// Paths outside every writable tree are canonicalised (a link there is the host's own business);
// paths inside a writable tree must contain no symbolic link at all (the command could have
// planted it): BuildMountPlan refuses with kPolicyRefused naming the path. The init re-checks
// with openat2(RESOLVE_NO_SYMLINKS), so a link planted after this check fails the launch.
[[nodiscard]] Result<MountPlan> BuildMountPlan(const SandboxPlan& plan, const PathLookup& fs);

}  // namespace jitsec::sandbox
