#include "base/environment.h"
#include "context/context.h"
#include "support/support.h"

#include <map>
#include <string>
#include <vector>

namespace jitsec::context {
namespace {

struct CiCase {
  std::map<std::string, std::string> env;
  std::string expected;
};

TEST(DetectCiTest, NamesTheSystemFromItsVariables) {
  const std::vector<CiCase> cases = {
      {{}, ""},
      {{{"PATH", "/bin"}}, ""},
      {{{"CI", "true"}}, "generic"},
      {{{"CI", "1"}}, "generic"},
      {{{"CI", "TRUE"}}, "generic"},
      {{{"CI", "false"}}, ""},
      {{{"CI", "False"}}, ""},
      {{{"CI", "0"}}, ""},
      {{{"CI", ""}}, ""},
      {{{"CI", "true"}, {"GITHUB_ACTIONS", "true"}}, "github-actions"},
      {{{"GITHUB_ACTIONS", "true"}}, "github-actions"},
      {{{"GITHUB_ACTIONS", "false"}, {"CI", "true"}}, "generic"},
      {{{"CI", "true"}, {"GITLAB_CI", "true"}}, "gitlab"},
      {{{"CI", "true"}, {"BUILDKITE", "true"}}, "buildkite"},
      {{{"JENKINS_URL", "https://ci.example/"}}, "jenkins"},
      {{{"JENKINS_HOME", "/var/lib/jenkins"}}, "jenkins"},
      {{{"CI", "true"}, {"CIRCLECI", "true"}}, "circleci"},
      {{{"TF_BUILD", "True"}}, "azure-pipelines"},
      {{{"CI", "true"}, {"TRAVIS", "true"}}, "travis"},
      {{{"CI", "true"}, {"DRONE", "true"}}, "drone"},
      {{{"BITBUCKET_BUILD_NUMBER", "17"}}, "bitbucket"},
      {{{"TEAMCITY_VERSION", "2023.05"}}, "teamcity"},
      {{{"CODEBUILD_BUILD_ID", "proj:abc"}}, "codebuild"},
      {{{"GITLAB_CI", ""}, {"CI", "false"}}, ""},
  };
  for (const auto& c : cases) {
    MapEnvironment env(c.env);
    std::string described;
    for (const auto& [k, v] : c.env) {
      described.append(k).append("=").append(v).append(" ");
    }
    EXPECT_EQ(DetectCi(env), c.expected) << "env: " << described;
  }
}

}  // namespace
}  // namespace jitsec::context
