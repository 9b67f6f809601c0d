#include "context/context.h"
#include "support/support.h"

#include <string>
#include <vector>

namespace jitsec::context {
namespace {

struct UrlCase {
  std::string url;
  std::string expected;
};

TEST(NormaliseRemoteUrlTest, MapsEveryUrlFormToHostOwnerName) {
  const std::vector<UrlCase> cases = {
      // scp-like
      {"git@github.com:acme/app.git", "github.com/acme/app"},
      {"git@github.com:acme/app", "github.com/acme/app"},
      {"github.com:acme/app.git", "github.com/acme/app"},
      {"git@GitHub.COM:Acme/App.git", "github.com/Acme/App"},
      {"git@github.com:/acme/app.git/", "github.com/acme/app"},
      {"user:token@github.com:acme/app.git", "github.com/acme/app"},
      // https with and without credentials
      {"https://github.com/acme/app.git", "github.com/acme/app"},
      {"https://github.com/acme/app/", "github.com/acme/app"},
      {"https://github.com/acme/app.git/", "github.com/acme/app"},
      {"https://user@github.com/acme/app", "github.com/acme/app"},
      {"https://user:tok@github.com/acme/app.git", "github.com/acme/app"},
      {"https://x-access-token:ghs_abc@GITHUB.com:443/acme/app.git", "github.com/acme/app"},
      {"https://user:p%40ss@github.com/acme/app", "github.com/acme/app"},
      {"https://user:pa/ss@github.com/acme/app", "github.com/acme/app"},
      {"https://user:p@ss@github.com/acme/app", "github.com/acme/app"},
      {"https://github.com/acme/app.git?token=abc#frag", "github.com/acme/app"},
      {"http://gitlab.example.com//group//sub/app.git", "gitlab.example.com/group/sub/app"},
      // ssh and other schemes
      {"ssh://git@github.com:22/acme/app", "github.com/acme/app"},
      {"ssh://git@github.com/acme/app.git", "github.com/acme/app"},
      {"SSH://github.com/acme/app", "github.com/acme/app"},
      {"git+ssh://git@host.example/a/b.git", "host.example/a/b"},
      {"git://host/a/b", "host/a/b"},
      {"ssh://git@[::1]:2222/a/b.git", "[::1]/a/b"},
      {"  https://github.com/acme/app.git\n", "github.com/acme/app"},
      {"https://github.com", "github.com"},
      // local repositories have no host: ""
      {"file:///x/y", ""},
      {"file:///srv/git/app.git", ""},
      {"/srv/git/app.git", ""},
      {"../app", ""},
      {"./a:b", ""},
      {"", ""},
      {"https://", ""},
      {"https://user:tok@/acme/app", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(NormaliseRemoteUrl(c.url), c.expected) << "url: " << c.url;
  }
}

TEST(NormaliseRemoteUrlTest, NeverKeepsCredentials) {
  const std::vector<std::string> urls = {
      "https://deploy:CANARYTOKEN@github.com/acme/app.git",
      "https://CANARYTOKEN@github.com/acme/app.git",
      "https://CANARYTOKEN:x-oauth-basic@github.com/acme/app",
      "https://u:CANARY/TOKEN@github.com/acme/app",
      "https://u:CANARYTOKEN@github.com",
      "https://github.com/acme/app?private_token=CANARYTOKEN",
      "u:CANARYTOKEN@github.com:acme/app.git",
      "ssh://CANARYTOKEN@host:22/a/b",
  };
  for (const auto& url : urls) {
    std::string out = NormaliseRemoteUrl(url);
    EXPECT_EQ(out.find("CANARY"), std::string::npos) << url << " -> " << out;
    EXPECT_EQ(out.find("TOKEN"), std::string::npos) << url << " -> " << out;
    EXPECT_FALSE(out.empty()) << url;
  }
}

}  // namespace
}  // namespace jitsec::context
