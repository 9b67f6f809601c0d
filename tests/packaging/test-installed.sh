#!/bin/bash
# Installs the jitsec .deb and tests it from the installed files only: layout and modes,
# `jitsec doctor`, `jitsec check` on every installed example, `man jitsec`, and real bash,
# zsh and fish completion of a command, an option and a task name from a policy.
# usage: tests/packaging/test-installed.sh PATH/TO/jitsec_VERSION_ARCH.deb
# Needs root (or sudo) for apt-get. Exits non-zero on any failure.
set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 PACKAGE.deb" >&2
  exit 2
fi
deb=$1
case "$deb" in /*) ;; *) deb=$PWD/$deb ;; esac
here=$(cd "$(dirname "$0")" && pwd)

failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
# expect_line NAME OUTPUT WANTED: OUTPUT (one item per line) contains the line WANTED.
expect_line() {
  if printf '%s\n' "$2" | grep -qxF -- "$3"; then
    pass "$1 offers \"$3\""
  else
    fail "$1 should offer \"$3\"; got: $(printf '%s' "$2" | tr '\n' ' ')"
  fi
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# 1. Install.
if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"; then
  pass "apt-get install $deb"
else
  fail "apt-get install $deb"
  exit 1
fi

# 2. Layout, modes, metadata.
for f in /usr/bin/jitsec \
         /usr/share/man/man1/jitsec.1.gz /usr/share/man/man5/jitsec-policy.5.gz \
         /usr/share/bash-completion/completions/jitsec \
         /usr/share/zsh/vendor-completions/_jitsec \
         /usr/share/fish/vendor_completions.d/jitsec.fish \
         /usr/share/doc/jitsec/copyright; do
  if [ -f "$f" ]; then pass "installed $f"; else fail "missing $f"; fi
done
examples=$(ls /usr/share/doc/jitsec/examples/*.yaml 2>/dev/null)
if [ -n "$examples" ]; then pass "examples installed: $(echo $examples | wc -w)"; else fail "no examples in /usr/share/doc/jitsec/examples"; fi
if [ -n "$(find /usr/bin/jitsec -perm /6000)" ]; then fail "/usr/bin/jitsec is setuid/setgid"; else pass "/usr/bin/jitsec is not setuid/setgid"; fi
if dpkg -L jitsec | xargs -r -d '\n' find 2>/dev/null -maxdepth 0 -type f -perm /6000 | grep -q .; then
  fail "the package installs a setuid/setgid file"
else
  pass "no setuid/setgid file in the package"
fi
depends=$(dpkg-query -W -f '${Depends}' jitsec)
case "$depends" in *libc6*) pass "Depends: $depends" ;; *) fail "Depends lacks libc6 (shlibs not computed?): \"$depends\"" ;; esac
# libpq is loaded with dlopen (not seen by dpkg-shlibdeps): it must be declared by hand.
case "$depends" in *libpq5*) pass "Depends names libpq5" ;; *) fail "Depends lacks libpq5 (dlopen'd by the postgres provider): \"$depends\"" ;; esac
# ...and it is not linked: every run would pay for loading it and its 21 dependencies.
if LC_ALL=C readelf -d /usr/bin/jitsec | grep -q 'NEEDED.*libpq'; then
  fail "/usr/bin/jitsec links libpq directly (it must be loaded with dlopen)"
else
  pass "/usr/bin/jitsec does not link libpq"
fi

# 3. Run from the installed files, in a throwaway home.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
chmod 700 "$home"
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share \
       XDG_STATE_HOME=$home/.local/state
unset JITSEC_POLICY JITSEC_ENV
cd "$home" || exit 1

if out=$(/usr/bin/jitsec doctor 2>&1); then pass "jitsec doctor"; else fail "jitsec doctor (status $?): $out"; fi
for p in $examples; do
  if out=$(/usr/bin/jitsec check --policy "$p" 2>&1); then
    pass "jitsec check --policy $p"
  else
    fail "jitsec check --policy $p (status $?): $out"
  fi
done

page=$(MANPAGER=cat MANWIDTH=80 man jitsec 2>&1)
if printf '%s' "$page" | grep -q 'EXIT STATUS' && printf '%s' "$page" | grep -q 'jitsec run'; then
  pass "man jitsec"
else
  fail "man jitsec: $(printf '%s' "$page" | head -n 3)"
fi
page=$(MANPAGER=cat MANWIDTH=80 man 5 jitsec-policy 2>&1)
if printf '%s' "$page" | grep -q 'KEY REFERENCE'; then pass "man 5 jitsec-policy"; else fail "man 5 jitsec-policy: $(printf '%s' "$page" | head -n 3)"; fi

# 4. Completion, driven through each shell's own machinery, against a policy with known tasks.
policy=$home/policy.yaml
cat > "$policy" <<'YAML'
version: 1
environments:
  staging: {}
tasks:
  zebra-build:
    description: completion test task
    environments: [staging]
  zebra-test:
    description: another completion test task
YAML
chmod 600 "$policy"

bash_complete() {  # bash_complete WORD... : COMPREPLY for the last word, from the installed file
  bash --norc --noprofile -c '
    if [ -f /usr/share/bash-completion/bash_completion ]; then
      . /usr/share/bash-completion/bash_completion
      _completion_loader jitsec
    else
      . /usr/share/bash-completion/completions/jitsec
    fi
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    fn=$(complete -p jitsec | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
    "$fn" jitsec "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' bash "$@"
}
expect_line "bash: jitsec ru" "$(bash_complete jitsec ru)" run
expect_line "bash: jitsec run --dr" "$(bash_complete jitsec run --dr)" --dry-run
expect_line "bash: jitsec --policy P run --task zebra-b" \
  "$(bash_complete jitsec --policy "$policy" run --task zebra-b)" zebra-build
expect_line "bash: JITSEC_POLICY run --task zebra-t" \
  "$(JITSEC_POLICY=$policy bash_complete jitsec run --task zebra-t)" zebra-test

zsh_complete() {  # zsh_complete 'LINE': matches real zsh offers at the end of LINE
  "$here/zsh-complete.zsh" /usr/share/zsh/vendor-completions "$1"
}
if command -v zsh >/dev/null; then
  expect_line "zsh: jitsec ru" "$(zsh_complete 'jitsec ru')" run
  expect_line "zsh: jitsec run --dr" "$(zsh_complete 'jitsec run --dr')" --dry-run
  expect_line "zsh: jitsec --policy P run --task zebra-b" \
    "$(zsh_complete "jitsec --policy $policy run --task zebra-b")" zebra-build
else
  fail "zsh is not installed"
fi

fish_complete() {  # fish_complete 'LINE': candidates real fish offers (vendor_completions.d)
  fish -c "complete -C '$1'" | cut -f1
}
if command -v fish >/dev/null; then
  expect_line "fish: jitsec ru" "$(fish_complete 'jitsec ru')" run
  expect_line "fish: jitsec run --dr" "$(fish_complete 'jitsec run --dr')" --dry-run
  expect_line "fish: jitsec --policy P run --task zebra-b" \
    "$(fish_complete "jitsec --policy $policy run --task zebra-b")" zebra-build
else
  fail "fish is not installed"
fi

echo "test-installed: $failures failure(s)"
[ "$failures" -eq 0 ]
