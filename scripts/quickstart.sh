#!/usr/bin/env bash
# The main job of jitsec on the embedded store, from a fresh Debian 12 machine: installs what is
# needed, builds, stores a demo secret, runs a task whose command reads it from its memfd (the
# output is masked), and shows the audit records. Everything goes to a throwaway home under
# ./build/demo-home, so your own ~/.config/jitsec is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJITSEC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target jitsec
jitsec=$PWD/build/src/jitsec
[ -x "$jitsec" ] || jitsec=$PWD/build/jitsec
demo=$PWD/build/demo-home
rm -rf "$demo" && mkdir -p "$demo" && chmod 700 "$demo"
export HOME=$demo XDG_CONFIG_HOME=$demo/.config XDG_DATA_HOME=$demo/.local/share XDG_STATE_HOME=$demo/.local/state
install -m 600 policies/example.yaml "$demo/policy.yaml"
export JITSEC_POLICY=$demo/policy.yaml
token="demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
set -x
printf '%s' "$token" | "$jitsec" secret set demo-token
"$jitsec" tasks
"$jitsec" explain --task hello -- sh -c 'echo "token is $(cat "$TOKEN_FILE")"'
"$jitsec" run --task hello -- sh -c 'echo "TOKEN_FILE=$TOKEN_FILE"; echo "token is $(cat "$TOKEN_FILE")"'
"$jitsec" audit show
"$jitsec" audit verify
"$jitsec" leases list
