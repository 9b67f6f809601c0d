#include "providers/local_store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "base/random.h"
#include "base/secret.h"
#include "support/support.h"

namespace jitsec::providers::local_store {
namespace {

using Vars = std::map<std::string, std::string>;

namespace fs = std::filesystem;
using ::jitsec::testing::ExpectNoCanaryInTree;
using ::jitsec::testing::MakeCanary;
using ::jitsec::testing::ReadTextFile;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

constexpr char kAuthError[] =
    "store entry \"db\" failed authentication (tampered, corrupt, or a different key)";

struct StoreFixture {
  ScopedTempDir tmp;
  fs::path dir = tmp / "data/jitsec/store";
  fs::path key = tmp / "config/jitsec/store.key";

  LocalStore OpenOrDie() {
    auto store = LocalStore::Open(dir, key, /*create=*/true);
    EXPECT_TRUE(store) << store.error().message();
    return std::move(*store);
  }
  fs::path Entry(std::string_view name) const { return dir / (std::string(name) + ".secret"); }
};

void FlipByteAt(const fs::path& p, long offset_from_start) {
  std::string data = ReadTextFile(p);
  ASSERT_LT(size_t(offset_from_start), data.size());
  data[size_t(offset_from_start)] = char(data[size_t(offset_from_start)] ^ 0x01);
  WriteTextFile(p, data);
}

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(LocalStoreTest, RoundTripsAValue) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("db", SecretBytes("hunter2")));
  auto got = store.Get("db");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->Reveal(), "hunter2");
}

TEST(LocalStoreTest, CreatesPrivateDirectoryKeyAndEntry) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("db", SecretBytes("v")));
  EXPECT_EQ(ModeOf(f.dir), 0700u);
  EXPECT_EQ(ModeOf(f.key.parent_path()), 0700u);
  EXPECT_EQ(ModeOf(f.key), 0600u);
  EXPECT_EQ(fs::file_size(f.key), 32u);
  EXPECT_EQ(ModeOf(f.Entry("db")), 0600u);
}

TEST(LocalStoreTest, ReopeningUsesTheSameKey) {
  StoreFixture f;
  {
    LocalStore store = f.OpenOrDie();
    ASSERT_TRUE(store.Set("db", SecretBytes("persisted")));
  }
  auto again = LocalStore::Open(f.dir, f.key, /*create=*/false);
  ASSERT_TRUE(again) << again.error().message();
  auto got = again->Get("db");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->Reveal(), "persisted");
}

TEST(LocalStoreTest, RoundTripsBinaryValueWithNulBytes) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  const std::string value("a\0b\0\0c\xff\n", 8);
  ASSERT_TRUE(store.Set("bin", SecretBytes(value)));
  auto got = store.Get("bin");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->Reveal(), value);
}

TEST(LocalStoreTest, RoundTripsOneMebibyteValue) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  std::string value(1 << 20, '\0');
  FillRandom(value.data(), value.size());
  ASSERT_TRUE(store.Set("big", SecretBytes(value)));
  auto got = store.Get("big");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->Reveal() == value);
}

TEST(LocalStoreTest, RoundTripsEmptyValue) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("empty", SecretBytes("")));
  auto got = store.Get("empty");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size(), 0u);
}

TEST(LocalStoreTest, SetReplacesTheValue) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("db", SecretBytes("one")));
  ASSERT_TRUE(store.Set("db", SecretBytes("two")));
  EXPECT_EQ(store.Get("db")->Reveal(), "two");
  // Atomic replace leaves no temporary files behind.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(f.dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(LocalStoreTest, MissingSecretIsNotFoundWithHint) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  auto got = store.Get("nope");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(got.error().message(),
            "secret \"nope\" not found in the store (jitsec secret set nope)");
}

TEST(LocalStoreTest, StoreThatDoesNotExistOpensEmptyWithoutCreate) {
  StoreFixture f;
  auto store = LocalStore::Open(f.dir, f.key, /*create=*/false);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_FALSE(fs::exists(f.dir));
  EXPECT_FALSE(fs::exists(f.key));
  auto names = store->List();
  ASSERT_TRUE(names);
  EXPECT_TRUE(names->empty());
  auto got = store->Get("db");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kNotFound);
}

TEST(LocalStoreTest, ExistingStoreWithoutKeyFileFailsToOpen) {
  StoreFixture f;
  { f.OpenOrDie(); }
  fs::remove(f.key);
  auto store = LocalStore::Open(f.dir, f.key, /*create=*/false);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.error().message(),
            "cannot open store key \"" + f.key.string() + "\": No such file or directory");
}

TEST(LocalStoreTest, WrongKeyIsCorrupt) {
  StoreFixture f;
  {
    LocalStore store = f.OpenOrDie();
    ASSERT_TRUE(store.Set("db", SecretBytes("v")));
  }
  fs::path other_key = f.tmp / "other.key";
  auto other = LocalStore::Open(f.dir, other_key, /*create=*/true);
  ASSERT_TRUE(other);
  auto got = other->Get("db");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(got.error().message(), kAuthError);
}

// Layout: 13-byte magic, version byte, 12-byte nonce, ciphertext, 16-byte tag.
TEST(LocalStoreTest, FlippedByteAnywhereIsCorrupt) {
  const std::string value = "correct horse battery staple";
  const long header = 14;
  const long nonce = 12;
  const long total = header + nonce + long(value.size()) + 16;
  struct Case {
    const char* what;
    long offset;
  };
  for (Case c : {Case{"magic", 0}, Case{"version", 13}, Case{"nonce", header + 3},
                 Case{"ciphertext first", header + nonce},
                 Case{"ciphertext middle", header + nonce + 10}, Case{"tag first", total - 16},
                 Case{"tag last", total - 1}}) {
    SCOPED_TRACE(c.what);
    StoreFixture f;
    LocalStore store = f.OpenOrDie();
    ASSERT_TRUE(store.Set("db", SecretBytes(value)));
    ASSERT_EQ(long(fs::file_size(f.Entry("db"))), total);
    FlipByteAt(f.Entry("db"), c.offset);
    auto got = store.Get("db");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
    EXPECT_EQ(got.error().message(), kAuthError);
  }
}

TEST(LocalStoreTest, TruncatedEntryIsCorrupt) {
  for (size_t keep : {size_t(0), size_t(10), size_t(14), size_t(40), size_t(41), size_t(50)}) {
    SCOPED_TRACE(keep);
    StoreFixture f;
    LocalStore store = f.OpenOrDie();
    ASSERT_TRUE(store.Set("db", SecretBytes("a value of some length")));
    std::string data = ReadTextFile(f.Entry("db"));
    WriteTextFile(f.Entry("db"), data.substr(0, keep));
    auto got = store.Get("db");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
    EXPECT_EQ(got.error().message(), kAuthError);
  }
}

TEST(LocalStoreTest, EntryRenamedToAnotherNameFailsAuthentication) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("prod", SecretBytes("prod-password")));
  ASSERT_TRUE(store.Set("db", SecretBytes("dev-password")));
  // Swap an entry in under another name: the name is bound as associated data.
  fs::rename(f.Entry("prod"), f.Entry("db"));
  auto got = store.Get("db");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(got.error().message(), kAuthError);
}

TEST(LocalStoreTest, EntryThatIsASymlinkIsRefused) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("real", SecretBytes("v")));
  fs::create_symlink(f.Entry("real"), f.Entry("db"));
  auto got = store.Get("db");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
}

TEST(LocalStoreTest, EncryptedFilesDoNotContainThePlaintext) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  const std::string canary = MakeCanary("store");
  ASSERT_TRUE(store.Set("db", SecretBytes(canary)));
  ASSERT_TRUE(store.Set("db2", SecretBytes(canary + canary)));
  ExpectNoCanaryInTree(f.tmp.path(), canary);
}

TEST(LocalStoreTest, KeyFileReadableByOthersIsRefused) {
  for (mode_t mode : {mode_t(0644), mode_t(0640), mode_t(0604), mode_t(0620)}) {
    SCOPED_TRACE(mode);
    StoreFixture f;
    { f.OpenOrDie(); }
    ASSERT_EQ(::chmod(f.key.c_str(), mode), 0);
    auto store = LocalStore::Open(f.dir, f.key, /*create=*/false);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code(), ErrorCode::kPermissionDenied);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", unsigned(mode));
    EXPECT_EQ(store.error().message(), "store key \"" + f.key.string() +
                                           "\" is accessible by other users (mode " + octal +
                                           "); fix: chmod 600 " + f.key.string());
    // create=true must not silently replace or accept it either.
    EXPECT_FALSE(LocalStore::Open(f.dir, f.key, /*create=*/true));
  }
}

TEST(LocalStoreTest, KeyFileOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  StoreFixture f;
  { f.OpenOrDie(); }
  ASSERT_EQ(::chown(f.key.c_str(), 65534, 65534), 0);
  auto store = LocalStore::Open(f.dir, f.key, /*create=*/false);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(store.error().message(),
            "store key \"" + f.key.string() +
                "\" is owned by uid 65534, not by you (uid 0); fix: chown 0 " + f.key.string() +
                " (or point jitsec at your own key)");
}

TEST(LocalStoreTest, KeyFileOfWrongSizeIsCorrupt) {
  StoreFixture f;
  fs::create_directories(f.key.parent_path());
  WriteTextFile(f.key, "short", 0600);
  auto store = LocalStore::Open(f.dir, f.key, /*create=*/true);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(store.error().message(),
            "store key \"" + f.key.string() + "\" has 5 bytes, expected 32");
}

TEST(LocalStoreTest, StoreDirectoryAccessibleByOthersIsRefused) {
  StoreFixture f;
  { f.OpenOrDie(); }
  ASSERT_EQ(::chmod(f.dir.c_str(), 0755), 0);
  auto store = LocalStore::Open(f.dir, f.key, /*create=*/false);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(store.error().message(), "store directory \"" + f.dir.string() +
                                         "\" is accessible by other users (mode 0755); fix: "
                                         "chmod 700 " + f.dir.string());
}

TEST(LocalStoreTest, ListReturnsSortedNamesAndIgnoresStrayFiles) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  for (const char* n : {"zeta", "alpha", "mid.dle", "B-2"}) {
    ASSERT_TRUE(store.Set(n, SecretBytes("v")));
  }
  WriteTextFile(f.dir / "README", "not an entry");
  WriteTextFile(f.dir / ".alpha.secret.tmp-abc", "leftover temporary file");
  WriteTextFile(f.dir / "bad name.secret", "invalid name");
  WriteTextFile(f.dir / ".secret", "no name");
  fs::create_directory(f.dir / "dir.secret");
  auto names = store.List();
  ASSERT_TRUE(names) << names.error().message();
  EXPECT_EQ(*names, (std::vector<std::string>{"B-2", "alpha", "mid.dle", "zeta"}));
}

TEST(LocalStoreTest, RemoveDeletesAnEntry) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  ASSERT_TRUE(store.Set("a", SecretBytes("1")));
  ASSERT_TRUE(store.Set("b", SecretBytes("2")));
  ASSERT_TRUE(store.Remove("a"));
  EXPECT_EQ(*store.List(), std::vector<std::string>{"b"});
  EXPECT_EQ(store.Get("a").error().code(), ErrorCode::kNotFound);
  auto again = store.Remove("a");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(again.error().message(), "secret \"a\" not found in the store");
}

TEST(LocalStoreTest, OperationsRejectInvalidNames) {
  StoreFixture f;
  LocalStore store = f.OpenOrDie();
  EXPECT_EQ(store.Set("../escape", SecretBytes("v")).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.Get("../escape").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.Remove("a/b").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(f.dir.parent_path() / "escape.secret"));
}

TEST(ValidateSecretNameTest, AcceptsAndRejectsPerTheGrammar) {
  const std::string ok128 = "a" + std::string(127, 'b');
  for (const std::string& good :
       {std::string("a"), std::string("Z"), std::string("9"), std::string("db-password"),
        std::string("pg.admin_2"), std::string("A.b-c_d"), ok128}) {
    EXPECT_TRUE(ValidateSecretName(good)) << good;
  }
  const std::string msg_tail =
      "\" is not allowed (use letters, digits, '.', '_' and '-', starting with a letter or digit)";
  struct Bad {
    std::string name;
    std::string message;
  };
  for (const Bad& bad : {
           Bad{"", "secret name is empty"},
           Bad{".hidden", "secret name \".hidden" + msg_tail},
           Bad{"-x", "secret name \"-x" + msg_tail},
           Bad{"_x", "secret name \"_x" + msg_tail},
           Bad{"a/b", "secret name \"a/b" + msg_tail},
           Bad{"..", "secret name \".." + msg_tail},
           Bad{"with space", "secret name \"with space" + msg_tail},
           Bad{"tab\there", "secret name \"tab\\there" + msg_tail},
           Bad{std::string("nul\0x", 5), "secret name \"nul\\u0000x" + msg_tail},
           Bad{"caf\xc3\xa9", "secret name \"caf\xc3\xa9" + msg_tail},
           Bad{ok128 + "c", "secret name \"" + ok128.substr(0, 40) +
                                "...\" is longer than 128 characters"},
       }) {
    auto st = ValidateSecretName(bad.name);
    ASSERT_FALSE(st) << bad.name;
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(st.error().message(), bad.message);
  }
}

TEST(DefaultKeyFileTest, PrefersTheEnvironmentVariable) {
  MapEnvironment env(Vars{{"HOME", "/home/u"}, {"JITSEC_STORE_KEY_FILE", "/keys/k"}});
  EXPECT_EQ(DefaultKeyFile(env), fs::path("/keys/k"));
}

TEST(DefaultKeyFileTest, FallsBackToTheConfigDirectory) {
  EXPECT_EQ(DefaultKeyFile(MapEnvironment(Vars{{"HOME", "/home/u"}})),
            fs::path("/home/u/.config/jitsec/store.key"));
  EXPECT_EQ(DefaultKeyFile(MapEnvironment(
                Vars{{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "/cfg"}, {"JITSEC_STORE_KEY_FILE", ""}})),
            fs::path("/cfg/jitsec/store.key"));
  EXPECT_EQ(DefaultStoreDir(MapEnvironment(Vars{{"HOME", "/home/u"}})),
            fs::path("/home/u/.local/share/jitsec/store"));
}

}  // namespace
}  // namespace jitsec::providers::local_store
