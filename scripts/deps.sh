#!/usr/bin/env bash
# Installs what jitsec needs to build and test on Debian 12, if it is missing. Runs apt-get as
# root (directly, or through sudo).
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config git
  libcli11-dev libyaml-cpp-dev libssl-dev libseccomp-dev libspdlog-dev libfmt-dev libexpected-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libpq-dev
  postgresql postgresql-client util-linux procps
  mandoc groff-base man-db bash-completion zsh fish python3 debhelper dpkg-dev file bubblewrap
  make curl nodejs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
