# fish completion for jitsec(1)
# Commands, options, and dynamic values from the active policy through jitsec's quiet
# machine-readable listings (`jitsec tasks --names`, `jitsec tasks --environments`,
# `jitsec secret list`); never by parsing help text. The command after `--` completes as a
# command of its own.

set -l __jitsec_commands run explain check tasks secret leases audit doctor version

# Runs the jitsec being completed, with the --policy given on the line (if any), quietly.
function __jitsec_query
    set -l tokens (commandline -opc)
    set -l prog $tokens[1]
    set -l policy
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case --
                break
            case --policy
                if test $i -lt $n
                    set policy --policy $tokens[(math $i + 1)]
                end
            case '--policy=*'
                set policy --policy (string replace -- '--policy=' '' $tokens[$i])
        end
    end
    command $prog $policy $argv 2>/dev/null
end

# True when `--` (ending jitsec's options of run/explain) is already on the line.
function __jitsec_after_dashdash
    set -l tokens (commandline -opc)
    contains -- -- $tokens[2..-1]
end

# Completes the command after `--` and its arguments, like `sudo` or `env` do.
function __jitsec_complete_command
    set -l tokens (commandline -opc)
    set -l idx (contains -i -- -- $tokens)
    set -l rest $tokens[(math $idx + 1)..-1] (commandline -ct)
    if test (count $rest) -le 1
        __fish_complete_command
    else
        complete -C (string join -- ' ' (string escape -- $rest))
    end
end

function __jitsec_using
    # __jitsec_using CMD [SUB]: the first non-option word is CMD (and the second SUB).
    set -l tokens (commandline -opc)
    set -l words
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case --
                break
            case --policy --task --env --since --run
                set skip 1
            case '-*'
            case '*'
                set -a words $t
        end
    end
    test (count $words) -ge 1; and test "$words[1]" = "$argv[1]"; or return 1
    if set -q argv[2]
        test (count $words) -ge 2; and test "$words[2]" = "$argv[2]"
    else
        true
    end
end

function __jitsec_needs_sub
    # __jitsec_needs_sub CMD: CMD is given and no subcommand yet.
    __jitsec_using $argv[1]; or return 1
    for s in $argv[2..-1]
        __jitsec_using $argv[1] $s; and return 1
    end
    true
end

complete -c jitsec -f
complete -c jitsec -n __jitsec_after_dashdash -x -a '(__jitsec_complete_command)'

# Global options (before or after the command).
complete -c jitsec -n 'not __jitsec_after_dashdash' -l policy -r -F -d 'Policy file'
complete -c jitsec -n 'not __jitsec_after_dashdash' -s v -l verbose -d 'More output (repeatable)'
complete -c jitsec -n 'not __jitsec_after_dashdash' -s q -l quiet -d 'Only errors'
complete -c jitsec -n 'not __jitsec_after_dashdash' -s h -l help -d 'Show help'
complete -c jitsec -n 'not __jitsec_after_dashdash' -l version -d 'Show version'

# Commands.
set -l nocmd "not __fish_seen_subcommand_from $__jitsec_commands"
complete -c jitsec -n $nocmd -a run -d 'Run a command with the task\'s credentials, sandboxed'
complete -c jitsec -n $nocmd -a explain -d 'Show what run would do and why'
complete -c jitsec -n $nocmd -a check -d 'Validate the policy'
complete -c jitsec -n $nocmd -a tasks -d 'List tasks'
complete -c jitsec -n $nocmd -a secret -d 'Manage the embedded store'
complete -c jitsec -n $nocmd -a leases -d 'List or sweep unrevoked leases'
complete -c jitsec -n $nocmd -a audit -d 'Show or verify the audit log'
complete -c jitsec -n $nocmd -a doctor -d 'Report kernel and system support'
complete -c jitsec -n $nocmd -a version -d 'Show version and build options'

# run / explain
for c in run explain
    set -l cond "__jitsec_using $c; and not __jitsec_after_dashdash"
    complete -c jitsec -n $cond -l task -x -a '(__jitsec_query tasks --names)' -d 'Task name'
    complete -c jitsec -n $cond -l env -x -a '(__jitsec_query tasks --environments)' -d 'Environment'
    complete -c jitsec -n $cond -a -- -d 'End of options; the command follows'
end
complete -c jitsec -n '__jitsec_using run; and not __jitsec_after_dashdash' -l dry-run -d 'Check and show, issue and run nothing'
complete -c jitsec -n '__jitsec_using run; and not __jitsec_after_dashdash' -l no-mask -d 'Do not mask secrets in output'
complete -c jitsec -n '__jitsec_using explain; and not __jitsec_after_dashdash' -l json -d 'JSON output'

# tasks
complete -c jitsec -n '__jitsec_using tasks' -l json -d 'JSON output'
complete -c jitsec -n '__jitsec_using tasks' -l names -d 'Task names only'
complete -c jitsec -n '__jitsec_using tasks' -l environments -d 'Environment names only'

# secret
complete -c jitsec -n '__jitsec_needs_sub secret set list rm' -a set -d 'Store a secret (value from stdin)'
complete -c jitsec -n '__jitsec_needs_sub secret set list rm' -a list -d 'List secret names'
complete -c jitsec -n '__jitsec_needs_sub secret set list rm' -a rm -d 'Remove a secret'
complete -c jitsec -n '__jitsec_using secret rm' -a '(__jitsec_query secret list)' -d 'Secret'

# leases
complete -c jitsec -n '__jitsec_needs_sub leases list sweep' -a list -d 'List unrevoked leases'
complete -c jitsec -n '__jitsec_needs_sub leases list sweep' -a sweep -d 'Revoke leases of dead runs'
complete -c jitsec -n '__jitsec_using leases list' -l json -d 'JSON output'

# audit
complete -c jitsec -n '__jitsec_needs_sub audit show verify' -a show -d 'Print audit records'
complete -c jitsec -n '__jitsec_needs_sub audit show verify' -a verify -d 'Check the integrity chain'
complete -c jitsec -n '__jitsec_using audit show' -l since -x -d 'Only records younger than DUR (10m, 1h30m)'
complete -c jitsec -n '__jitsec_using audit show' -l run -x -d 'Only records of run ID'
complete -c jitsec -n '__jitsec_using audit show' -l json -d 'JSON lines'

# doctor
complete -c jitsec -n '__jitsec_using doctor' -l json -d 'JSON output'
