// Delivery's descriptor numbering: PlanFiles (used to build the sandbox before anything is
// issued) must give every `file:` delivery the descriptor and mount path that Prepare gives it
// once the leases exist; and the memfds Prepare makes are sealed, read-only and hold the value.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "delivery/delivery.h"

namespace jitsec::delivery {
namespace {

policy::Delivery File(std::string env, std::string path = {}) {
  policy::Delivery d;
  d.kind = policy::DeliveryKind::kFile;
  d.env = std::move(env);
  d.path = std::move(path);
  return d;
}

policy::Delivery Env(std::string name, std::string field) {
  policy::Delivery d;
  d.kind = policy::DeliveryKind::kEnv;
  d.env = std::move(name);
  d.field = std::move(field);
  return d;
}

providers::Lease LeaseWith(const std::string& user, const std::string& secret) {
  providers::Lease l;
  l.fields.push_back({"user", false, SecretBytes(user)});
  l.fields.push_back({"password", true, SecretBytes(secret)});
  return l;
}

std::string ReadFd(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
    out.append(buf, size_t(n));
    off += n;
  }
  return out;
}

TEST(DeliveryTest, PlanFilesNumbersFileDeliveriesAsPrepareDoes) {
  std::vector<policy::Credential> creds(3);
  creds[0].name = "DB";
  creds[0].deliver = {Env("DB_USER", "user"), File("DB_PASSWORD_FILE"), File("", "/run/secrets/db")};
  creds[1].name = "TOKEN";
  creds[1].deliver = {Env("TOKEN_USER", "user")};  // no file: takes no descriptor
  creds[2].name = "KEY";
  creds[2].deliver = {File("KEY_FILE", "/home/u/.key")};

  std::vector<PlannedFile> planned = PlanFiles(creds);
  ASSERT_EQ(planned.size(), 3U);
  EXPECT_EQ(planned[0].target, 3);
  EXPECT_EQ(planned[0].mount_path, "");
  EXPECT_EQ(planned[1].target, 4);
  EXPECT_EQ(planned[1].mount_path, "/run/secrets/db");
  EXPECT_EQ(planned[2].target, 5);
  EXPECT_EQ(planned[2].mount_path, "/home/u/.key");

  std::vector<providers::Lease> leases;
  leases.push_back(LeaseWith("u1", "canary-db-7f3a"));
  leases.push_back(LeaseWith("u2", "canary-token-7f3a"));
  leases.push_back(LeaseWith("u3", "canary-key-7f3a"));
  std::vector<IssuedCredential> issued;
  for (size_t i = 0; i < creds.size(); ++i) issued.push_back({&creds[i], &leases[i]});
  auto dp = Prepare(issued);
  ASSERT_TRUE(dp) << dp.error().message();
  ASSERT_EQ(dp->files.size(), planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    EXPECT_EQ(dp->files[i].target, planned[i].target) << i;
    EXPECT_EQ(dp->files[i].mount_path, planned[i].mount_path) << i;
  }
  EXPECT_EQ(ReadFd(dp->files[1].fd.get()), "canary-db-7f3a");
  // Sealed against every change, read-only for its owner.
  int seals = ::fcntl(dp->files[1].fd.get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK),
            F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
  struct stat st {};
  ASSERT_EQ(::fstat(dp->files[1].fd.get(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400U);
  EXPECT_EQ(::write(dp->files[1].fd.get(), "x", 1), -1);
}

TEST(DeliveryTest, PlanFilesStartsAtTheGivenDescriptor) {
  std::vector<policy::Credential> creds(1);
  creds[0].deliver = {File("A"), File("B")};
  auto planned = PlanFiles(creds, 10);
  ASSERT_EQ(planned.size(), 2U);
  EXPECT_EQ(planned[0].target, 10);
  EXPECT_EQ(planned[1].target, 11);
  EXPECT_TRUE(PlanFiles({}).empty());
}

}  // namespace
}  // namespace jitsec::delivery
