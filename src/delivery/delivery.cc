#include "delivery/delivery.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/encoding.h"
#include "base/fs.h"

namespace jitsec::delivery {
namespace {

using policy::FileFormat;

const providers::Field* FieldFor(const providers::Lease& lease, const std::string& name) {
  return name.empty() ? lease.FirstSecretField() : lease.FindField(name);
}

std::string_view FieldValue(const providers::Lease& lease, std::string_view name) {
  const auto* f = lease.FindField(name);
  return f ? f->value.Reveal() : std::string_view();
}

// pgpass fields escape ':' and '\' with a backslash (libpq, "The Password File").
void AppendPgpassField(SecretBytes& out, std::string_view v) {
  for (char c : v) {
    if (c == ':' || c == '\\') out.Append("\\");
    out.Append(std::string_view(&c, 1));
  }
}

// dotenv: NAME="value" with \\, \", \n, \r and \$ escaped (the dotenv/compose convention).
void AppendDotenvValue(SecretBytes& out, std::string_view v) {
  out.Append("\"");
  for (char c : v) {
    switch (c) {
      case '\\': out.Append("\\\\"); break;
      case '"': out.Append("\\\""); break;
      case '\n': out.Append("\\n"); break;
      case '\r': out.Append("\\r"); break;
      case '$': out.Append("\\$"); break;
      default: out.Append(std::string_view(&c, 1));
    }
  }
  out.Append("\"");
}

void AppendJsonString(SecretBytes& out, std::string_view v) {
  out.Append("\"");
  // JsonEscape returns a std::string copy; wipe it after use.
  std::string esc = JsonEscape(v);
  out.Append(esc);
  explicit_bzero(esc.data(), esc.size());
  out.Append("\"");
}

std::string Upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  }
  return r;
}

}  // namespace

Result<UniqueFd> CreateSealedMemFd(std::string_view name, const SecretBytes& data) {
  std::string label = "jitsec-" + std::string(name);
  UniqueFd fd(::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return FailErrno(ErrorCode::kIo, "memfd_create \"" + label + "\"");
  JITSEC_TRY(WriteAll(fd.get(), data.Reveal(), "write memfd \"" + label + "\""));
  if (::fchmod(fd.get(), 0400) != 0) return FailErrno(ErrorCode::kIo, "fchmod memfd \"" + label + "\"");
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    int err = errno;
    if (err == EINVAL || err == ENOSYS) {
      return Fail(ErrorCode::kUnsupported,
                  "memfd sealing is not supported by this kernel (needed to deliver \"" +
                      std::string(name) + "\"; see jitsec doctor)",
                  err);
    }
    return FailErrno(ErrorCode::kIo, "seal memfd \"" + label + "\"", err);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return FailErrno(ErrorCode::kIo, "lseek memfd");
  return fd;
}

Result<SecretBytes> Render(const policy::Delivery& d, const policy::Credential& cred,
                           const providers::Lease& lease) {
  SecretBytes out;
  switch (d.format) {
    case FileFormat::kRaw: {
      const auto* f = FieldFor(lease, d.field);
      if (f == nullptr) {
        return Fail(ErrorCode::kInternal, "credential " + cred.name + " has no field \"" + d.field + "\"");
      }
      out.Append(f->value.Reveal());
      return out;
    }
    case FileFormat::kPgpass: {
      // hostname:port:database:username:password. Host and port are wildcards: the file exists
      // for this run only and a socket directory as host is easy to get wrong.
      out.Append("*:*:");
      AppendPgpassField(out, FieldValue(lease, "dbname"));
      out.Append(":");
      AppendPgpassField(out, FieldValue(lease, "user"));
      out.Append(":");
      AppendPgpassField(out, FieldValue(lease, "password"));
      out.Append("\n");
      return out;
    }
    case FileFormat::kNetrc: {
      const auto* secret = FieldFor(lease, d.field);
      if (secret == nullptr) return Fail(ErrorCode::kInternal, "credential " + cred.name + " has no secret field");
      std::string_view host = FieldValue(lease, "host");
      std::string_view user = FieldValue(lease, "user");
      if (!host.empty()) {
        out.Append("machine ");
        out.Append(host);
      } else {
        out.Append("default");
      }
      out.Append(" login ");
      out.Append(user.empty() ? std::string_view("token") : user);
      out.Append(" password ");
      out.Append(secret->value.Reveal());
      out.Append("\n");
      return out;
    }
    case FileFormat::kDotenv: {
      // One line per field: <CREDENTIAL>=<value> for single-field credentials,
      // <CREDENTIAL>_<FIELD>=<value> otherwise.
      bool single = lease.fields.size() == 1;
      for (const auto& f : lease.fields) {
        out.Append(cred.name);
        if (!single) {
          out.Append("_");
          out.Append(Upper(f.name));
        }
        out.Append("=");
        AppendDotenvValue(out, f.value.Reveal());
        out.Append("\n");
      }
      return out;
    }
    case FileFormat::kJson: {
      out.Append("{");
      bool first = true;
      for (const auto& f : lease.fields) {
        if (!first) out.Append(",");
        first = false;
        AppendJsonString(out, f.name);
        out.Append(":");
        AppendJsonString(out, f.value.Reveal());
      }
      out.Append("}\n");
      return out;
    }
    case FileFormat::kTemplate: {
      std::string_view t = d.template_text;
      while (!t.empty()) {
        size_t open = t.find("{{");
        if (open == std::string_view::npos) {
          out.Append(t);
          break;
        }
        out.Append(t.substr(0, open));
        size_t close = t.find("}}", open + 2);
        if (close == std::string_view::npos) {
          out.Append(t.substr(open));
          break;
        }
        std::string_view name = t.substr(open + 2, close - open - 2);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        const auto* f = lease.FindField(name);
        if (f == nullptr) {
          return Fail(ErrorCode::kPolicyInvalid, "credential " + cred.name + ": template field \"" +
                                                     std::string(name) + "\" does not exist");
        }
        out.Append(f->value.Reveal());
        t.remove_prefix(close + 2);
      }
      return out;
    }
  }
  return Fail(ErrorCode::kInternal, "unknown delivery format");
}

std::vector<PlannedFile> PlanFiles(std::span<const policy::Credential> credentials, int first_fd) {
  std::vector<PlannedFile> out;
  int next_fd = first_fd;
  for (const auto& cred : credentials) {
    for (const auto& d : cred.deliver) {
      if (d.kind == policy::DeliveryKind::kFile) out.push_back({next_fd++, d.path});
    }
  }
  return out;
}

Result<DeliveryPlan> Prepare(std::span<const IssuedCredential> issued, int first_fd) {
  DeliveryPlan plan;
  int next_fd = first_fd;
  for (const auto& ic : issued) {
    const policy::Credential& cred = *ic.credential;
    const providers::Lease& lease = *ic.lease;
    for (const auto& d : cred.deliver) {
      switch (d.kind) {
        case policy::DeliveryKind::kFile: {
          JITSEC_ASSIGN_OR_RETURN(SecretBytes content, Render(d, cred, lease));
          std::string label = cred.name + "/" + std::string(policy::FileFormatName(d.format));
          JITSEC_ASSIGN_OR_RETURN(UniqueFd fd, CreateSealedMemFd(label, content));
          DeliveredFile file;
          file.fd = std::move(fd);
          file.target = next_fd++;
          file.env_var = d.env;
          file.mount_path = d.path;
          file.label = label;
          if (!d.env.empty()) plan.env.emplace_back(d.env, "/dev/fd/" + std::to_string(file.target));
          plan.files.push_back(std::move(file));
          break;
        }
        case policy::DeliveryKind::kStdin: {
          JITSEC_ASSIGN_OR_RETURN(SecretBytes content, Render(d, cred, lease));
          JITSEC_ASSIGN_OR_RETURN(plan.stdin_memfd, CreateSealedMemFd(cred.name + "/stdin", content));
          break;
        }
        case policy::DeliveryKind::kEnv: {
          const auto* f = FieldFor(lease, d.field);
          if (f == nullptr) {
            return Fail(ErrorCode::kInternal, "credential " + cred.name + " has no field \"" + d.field + "\"");
          }
          if (f->secret && !d.unsafe) {
            // The validator refuses this; checked again here because it is the last line.
            return Fail(ErrorCode::kPolicyInvalid, "credential " + cred.name + ": secret field \"" +
                                                       f->name + "\" in the environment needs unsafe: true");
          }
          if (f->secret) plan.unsafe_env_vars.push_back(d.env);
          plan.env.emplace_back(d.env, std::string(f->value.Reveal()));
          break;
        }
      }
    }
  }
  return plan;
}

}  // namespace jitsec::delivery
