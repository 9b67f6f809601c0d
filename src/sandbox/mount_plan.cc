#include "sandbox/mount_plan.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>

namespace jitsec::sandbox {
namespace fs = std::filesystem;

std::string_view MountKindName(MountKind k) {
  switch (k) {
    case MountKind::kBindReadOnly: return "read-only";
    case MountKind::kBindWritable: return "writable";
    case MountKind::kPrivateTmp: return "private tmpfs";
    case MountKind::kFreeze: return "frozen";
    case MountKind::kProtect: return "protected";
    case MountKind::kDenyDir: return "denied directory";
    case MountKind::kDenyFile: return "denied file";
    case MountKind::kMirror: return "mirrored";
    case MountKind::kSecret: return "secret file";
    case MountKind::kPin: return "pinned";
  }
  return "?";
}

namespace {

class RealPaths final : public PathLookup {
 public:
  PathInfo Stat(const fs::path& p) const override {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return {};
    return {true, S_ISDIR(st.st_mode), S_ISLNK(st.st_mode)};
  }
  std::vector<std::string> List(const fs::path& dir) const override {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path Canonical(const fs::path& p) const override {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    return ec ? p : c;
  }
  std::string ReadLink(const fs::path& p) const override {
    std::error_code ec;
    fs::path t = fs::read_symlink(p, ec);
    return ec ? std::string() : t.string();
  }
};

MountOp Op(MountKind k, std::string path, bool is_dir, std::vector<std::string> entries = {}) {
  MountOp op;
  op.kind = k;
  op.path = std::move(path);
  op.is_dir = is_dir;
  op.writable_entries = std::move(entries);
  return op;
}

int Depth(const std::string& p) {
  if (p == "/") return 0;
  return int(std::count(p.begin(), p.end(), '/'));
}

// True when `inner` is `outer` or below it.
bool Within(const std::string& inner, const std::string& outer) {
  if (outer == "/") return true;
  return inner == outer || (inner.size() > outer.size() && inner.starts_with(outer) &&
                            inner[outer.size()] == '/');
}

int Priority(MountKind k) {
  switch (k) {
    case MountKind::kBindReadOnly:
    case MountKind::kBindWritable:
    case MountKind::kPrivateTmp:
    case MountKind::kPin: return 0;
    case MountKind::kFreeze: return 1;
    case MountKind::kProtect: return 2;
    case MountKind::kDenyDir:
    case MountKind::kDenyFile: return 3;
    case MountKind::kMirror: return 4;
    case MountKind::kSecret: return 5;
  }
  return 6;
}

struct WriteRoot {
  std::string written;    // as in the plan
  std::string canonical;  // links above it resolved
};

class Planner {
 public:
  Planner(const SandboxPlan& plan, const PathLookup& fs) : plan_(plan), fs_(fs) {}

  Result<MountPlan> Run() {
    // 1. Writable roots: a write tree nested in another one stays as written (its components
    //    are checked like any other path inside a writable tree); the others are canonical.
    for (const auto& w : plan_.write) {
      bool nested = false;
      for (const auto& o : plan_.write) {
        nested = nested || (o != w && Within(w.string(), o.string()));
      }
      roots_.push_back({w.string(), nested ? w.string() : fs_.Canonical(w).string()});
    }
    // 2. Trees.
    for (const auto& w : plan_.write) {
      JITSEC_ASSIGN_OR_RETURN(std::string p, Place(w));
      if (p == "/tmp") {
        AddTree(MountKind::kPrivateTmp, p, true);
      } else if (PathInfo i = fs_.Stat(p); i.exists) {
        AddTree(MountKind::kBindWritable, p, i.is_dir);
      }
    }
    for (const auto& r : plan_.read) {
      JITSEC_ASSIGN_OR_RETURN(std::string p, Place(r));
      PathInfo i = fs_.Stat(p);
      if (!i.exists) continue;
      bool dup = false;
      for (const auto& op : out_.ops) dup = dup || op.path == p;
      if (!dup) AddTree(MountKind::kBindReadOnly, p, i.is_dir);
    }
    // 3. Overlays on existing paths first (they decide what is writable), then the freezes.
    std::vector<std::pair<std::string, bool>> missing;  // path, is a protect (else a deny)
    // The defaults that apply only where they exist are checked for that first (lstat follows
    // links above the last component): most of them do not, and placing a path costs more.
    for (const auto* list : {&plan_.protect, &plan_.jitsec_readonly, &plan_.shell_startup}) {
      for (const auto& raw : *list) {
        if (list == &plan_.shell_startup && !fs_.Stat(raw).exists) continue;
        JITSEC_ASSIGN_OR_RETURN(std::string p, Place(raw));
        if (Access(p) != Seen::kWritable) continue;  // already read-only, private or invisible
        PathInfo i = fs_.Stat(p);
        if (!i.exists) {
          if (list != &plan_.shell_startup) missing.emplace_back(p, true);
          continue;
        }
        Add(Op(MountKind::kProtect, p, i.is_dir));
      }
    }
    for (const auto* list : {&plan_.deny, &plan_.jitsec_hidden, &plan_.deny_default}) {
      for (const auto& raw : *list) {
        if (list == &plan_.deny_default && !fs_.Stat(raw).exists) continue;
        JITSEC_ASSIGN_OR_RETURN(std::string p, Place(raw));
        denied_.push_back(p);  // visible or not, no delivery may go below it (AddSecrets)
        Seen s = Access(p);
        if (s == Seen::kInvisible || s == Seen::kPrivate) continue;
        PathInfo i = fs_.Stat(p);
        if (!i.exists) {
          if (s == Seen::kWritable && list != &plan_.deny_default) missing.emplace_back(p, false);
          continue;
        }
        bool dup = false;  // /var/run/docker.sock is /run/docker.sock
        for (const auto& op : out_.ops) {
          dup = dup || ((op.kind == MountKind::kDenyDir || op.kind == MountKind::kDenyFile) &&
                        op.path == p);
        }
        if (dup) continue;
        Add(Op(i.is_dir ? MountKind::kDenyDir : MountKind::kDenyFile, p, i.is_dir));
      }
    }
    for (const auto& [p, is_protect] : missing) {
      std::string a = fs::path(p).parent_path().string();
      while (a != "/" && !fs_.Stat(a).exists) a = fs::path(a).parent_path().string();
      if (Access(a) != Seen::kWritable) continue;
      bool dup = false;
      for (const auto& op : out_.ops) dup = dup || (op.kind == MountKind::kFreeze && op.path == a);
      if (!dup) Add(Op(MountKind::kFreeze, a, true, fs_.List(a)));
      out_.warnings.push_back(std::string(is_protect ? "protected" : "denied") + " path \"" + p +
                              "\" does not exist: nothing can be created directly in \"" + a +
                              "\" during the run");
    }
    JITSEC_TRY(AddSecrets());
    AddPins();
    std::stable_sort(out_.ops.begin(), out_.ops.end(), [](const MountOp& x, const MountOp& y) {
      int dx = Depth(x.path);
      int dy = Depth(y.path);
      if (dx != dy) return dx < dy;
      return Priority(x.kind) < Priority(y.kind);
    });
    return std::move(out_);
  }

 private:
  enum class Seen : uint8_t { kInvisible, kPrivate, kReadOnly, kWritable };

  // Where a plan path really is: rebased onto its canonical writable root and checked for
  // links, or canonicalised when no writable tree contains it.
  Result<std::string> Place(const fs::path& raw) {
    std::string p = raw.string();
    const WriteRoot* root = nullptr;
    for (const auto& r : roots_) {
      if (Within(p, r.written) && (root == nullptr || r.written.size() > root->written.size())) {
        root = &r;
      }
    }
    if (root == nullptr) return fs_.Canonical(raw).string();
    std::string rel = p.substr(root->written.size());
    std::string placed = root->canonical == "/" && !rel.empty() ? rel : root->canonical + rel;
    // Every component below the writable root must be a real directory or file.
    fs::path walk = root->canonical;
    for (const auto& part : fs::path(rel).relative_path()) {
      walk /= part;
      if (fs_.Stat(walk).is_symlink) {
        return Fail(ErrorCode::kPolicyRefused,
                    "sandbox path \"" + p + "\" goes through the symbolic link \"" +
                        walk.string() + "\" in a writable tree; refusing to mount through it");
      }
    }
    return placed;
  }

  Status AddSecrets() {
    for (const auto& m : plan_.secret_mounts) {
      std::string t = m.target.string();
      // A delivery inside a denied tree would need that tree's directory made visible (its
      // mount point, or a mirror of its entries): refused, whatever is in it.
      for (const auto& d : denied_) {
        if (Within(t, d)) {
          return Fail(ErrorCode::kPolicyInvalid,
                      "file delivery path \"" + t + "\" is inside the denied path \"" + d + "\"");
        }
      }
      Seen s = Access(t);
      PathInfo i = fs_.Stat(t);
      if (i.exists && (s == Seen::kReadOnly || s == Seen::kWritable)) {
        if (i.is_dir || i.is_symlink) {
          return Fail(ErrorCode::kPolicyInvalid,
                      "file delivery path \"" + t + "\" is a directory or a symbolic link");
        }
      } else if (s == Seen::kReadOnly || s == Seen::kWritable) {
        std::string a = fs::path(t).parent_path().string();
        while (a != "/" && !fs_.Stat(a).exists) a = fs::path(a).parent_path().string();
        if (!fs_.Stat(a).is_dir) {
          return Fail(ErrorCode::kPolicyInvalid,
                      "file delivery path \"" + t + "\": \"" + a + "\" is not a directory");
        }
        MountOp* mirror = nullptr;
        for (auto& op : out_.ops) {
          if (op.kind == MountKind::kMirror && op.path == a) mirror = &op;
        }
        if (mirror == nullptr) {
          MountOp op = Op(MountKind::kMirror, a, true);
          op.mirror_writable = s == Seen::kWritable;
          for (const auto& name : fs_.List(a)) {
            fs::path e = fs::path(a) / name;
            PathInfo ei = fs_.Stat(e);
            MirrorEntry me{name, MirrorEntry::Type::kFile, {}};
            if (ei.is_symlink) {
              me.type = MirrorEntry::Type::kLink;
              me.link_target = fs_.ReadLink(e);
            } else if (ei.is_dir) {
              me.type = MirrorEntry::Type::kDir;
            }
            op.mirror.push_back(std::move(me));
          }
          Add(std::move(op));
          mirror = &out_.ops.back();
        }
        mirror->create_files.push_back(t.substr(a == "/" ? 1 : a.size() + 1));
      }
      // Otherwise T is in a tmpfs of the new root (or nowhere): the init creates it there.
      MountOp op = Op(MountKind::kSecret, t, false);
      op.secret_fd_target = m.fd_target;
      Add(std::move(op));
    }
    return Ok();
  }

  // mount_plan.h: pins every writable directory between a mount and the mount that contains it.
  // Walking up from each mount's parent, a directory that is itself a mount ends the walk (its
  // own walk covers what is above it).
  void AddPins() {
    std::vector<std::string> pins;
    auto is_mount = [&](const std::string& a) {
      for (const auto& op : out_.ops) {
        if (op.path == a) return true;
      }
      return std::find(pins.begin(), pins.end(), a) != pins.end();
    };
    const size_t n = out_.ops.size();
    for (size_t i = 0; i < n; ++i) {
      std::string a = out_.ops[i].path;
      while (a != "/") {
        a = fs::path(a).parent_path().string();
        if (is_mount(a)) break;
        if (Access(a) != Seen::kWritable) continue;
        PathInfo info = fs_.Stat(a);
        if (!info.exists || !info.is_dir || info.is_symlink) continue;
        pins.push_back(a);
      }
    }
    for (auto& p : pins) Add(Op(MountKind::kPin, std::move(p), true));
  }

  void AddTree(MountKind k, const std::string& p, bool is_dir) { Add(Op(k, p, is_dir)); }
  void Add(MountOp op) { out_.ops.push_back(std::move(op)); }

  // How `p` is seen inside given the ops so far: the deepest tree containing it decides, then a
  // protect at or below that tree's depth makes it read-only.
  Seen Access(const std::string& p) const {
    const MountOp* tree = nullptr;
    for (const auto& op : out_.ops) {
      if (Priority(op.kind) != 0 || !Within(p, op.path)) continue;
      if (tree == nullptr || Depth(op.path) > Depth(tree->path) ||
          (Depth(op.path) == Depth(tree->path) && op.kind == MountKind::kBindWritable)) {
        tree = &op;
      }
    }
    if (tree == nullptr) return Seen::kInvisible;
    if (tree->kind == MountKind::kPrivateTmp) return Seen::kPrivate;
    if (tree->kind == MountKind::kBindReadOnly) return Seen::kReadOnly;
    for (const auto& op : out_.ops) {
      if (op.kind == MountKind::kProtect && Within(p, op.path) &&
          Depth(op.path) >= Depth(tree->path)) {
        return Seen::kReadOnly;
      }
    }
    return Seen::kWritable;
  }

  const SandboxPlan& plan_;
  const PathLookup& fs_;
  std::vector<WriteRoot> roots_;
  std::vector<std::string> denied_;  // every denied or hidden path, placed
  MountPlan out_;
};

}  // namespace

const PathLookup& HostPaths() {
  static const RealPaths paths;
  return paths;
}

Result<MountPlan> BuildMountPlan(const SandboxPlan& plan, const PathLookup& fs) {
  return Planner(plan, fs).Run();
}

}  // namespace jitsec::sandbox
