#!/usr/bin/zsh -f
# Prints the completions real zsh offers for a command line, one per line.
# usage: zsh-complete.zsh FPATH_DIR 'jitsec ru'
# Drives an interactive zsh in a pty (zsh/zpty): compinit, a <Tab>, and a compadd wrapper
# that prints every match instead of inserting it (after Valodim's zsh-capture-completion).
emulate -L zsh
zmodload zsh/zpty || exit 2
local fdir=$1 line=$2
local init=${TMPDIR:-/tmp}/jitsec-zcap.$$.zsh
local dump=${TMPDIR:-/tmp}/jitsec-zcap.$$.zcompdump
cat >$init <<INIT
PROMPT=
fpath=(${(q)fdir} \$fpath)
autoload -Uz compinit
compinit -u -d ${(q)dump}
bindkey '^M' undefined
bindkey '^J' undefined
bindkey '^I' complete-word
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-separator ''
jitsec_zcap_mark() { print -rn -- \$'\\n<<ZCAP>>\\n' }
compprefuncs=( jitsec_zcap_mark )
comppostfuncs=( jitsec_zcap_mark exit )
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "\$@"
    return \$?
  fi
  local -a __hits
  builtin compadd -A __hits "\$@"
  local h
  for h in \$__hits; do print -r -- "ZCAP:\$h"; done
}
print ready
INIT
zpty z zsh -f -i || exit 2
zpty -w z "source ${(q)init}"
local out
integer n=0
while (( n++ < 50 )); do
  zpty -r -t z out && [[ $out == *ready* ]] && break
  sleep 0.05
done
zpty -w z "$line"$'\t'
local all="" chunk
integer tries=0
while (( tries++ < 200 )); do
  if zpty -r -t z chunk; then
    all+=$chunk
    [[ $all == *'<<ZCAP>>'*'<<ZCAP>>'* ]] && break
  else
    sleep 0.05
  fi
done
zpty -d z
rm -f $init $dump
local l
for l in ${(f)all}; do
  l=${l%$'\r'}
  [[ $l == ZCAP:* ]] && print -r -- ${l#ZCAP:}
done
return 0
