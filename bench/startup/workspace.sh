# shellcheck shell=bash
# Sourced by bench/startup/run.sh and bench/startup/hot-text.sh: the benchmark's workspace.
# bench_workspace JITSEC WORK: points HOME and the XDG directories into WORK, writes the bench
# policy (task `bench`: the full default sandbox and one store credential delivered as a file;
# `bench-nosandbox`: the same without the sandbox), stores its secret, makes WORK/ws a git
# repository (an agent's workspace is one: the default `protect` entries .git/hooks and
# .git/config exist, as they do in real use) and changes into it. Sets $policy. An optional
# third argument is the policy's `settings:` section (its lines, indented).
bench_workspace() {
  local jitsec=$1 work=$2 settings=${3:-}
  export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share \
         XDG_STATE_HOME=$work/home/.local/state
  mkdir -p "$XDG_CONFIG_HOME/jitsec" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$work/ws"
  policy=$XDG_CONFIG_HOME/jitsec/policy.yaml
  { echo "version: 1"; [ -z "$settings" ] || printf 'settings:\n%s\n' "$settings"; } > "$policy"
  cat >> "$policy" <<'YAML'
tasks:
  bench:
    description: start-up benchmark (full default sandbox, one file delivery)
    credentials:
      TOKEN:
        provider: store
        secret: bench-token
        deliver:
          - file: {env: TOKEN_FILE}
  # Diagnostic only (performance.md: within 2x of bare): the same without the sandbox.
  bench-nosandbox:
    description: start-up benchmark without the sandbox
    sandbox: {enabled: false}
    credentials:
      TOKEN:
        provider: store
        secret: bench-token
        deliver:
          - file: {env: TOKEN_FILE}
YAML
  chmod 600 "$policy"
  printf 'bench-token-value-%s' "$RANDOM" | "$jitsec" --policy "$policy" secret set bench-token
  cd "$work/ws" || return 1
  git init -q .
}
