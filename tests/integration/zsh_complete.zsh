# zsh_complete.zsh COMPDIR LINE — prints, one per line, what zsh's completion
# system offers for the last word of LINE (the text before the cursor), with
# COMPDIR first on $fpath. Used by 87-completion-zsh.sh.
#
# Completion runs only inside ZLE, so this drives a real interactive `zsh -f`
# on a pseudo-terminal (zsh/zpty): compinit, then LINE and a TAB typed. A
# compadd wrapper appends every match the completion functions add (after
# zsh's own prefix matching: `compadd -A`) to a file. The shell is told to
# write markers when its line editor is reading and after the TAB; this
# waits for each marker (keys sent before would be lost, see setup.zsh).
# Exit 3: no zsh/zpty; 4: the shell never got there (the log on stderr).
zmodload zsh/zpty || exit 3
emulate -L zsh
local dir=$1 line=$2 tmp i
tmp=$(mktemp -d /tmp/ksmplus-zsh.XXXXXX) || exit 3
cat > $tmp/setup.zsh <<'SETUP'
PS1='' RPS1='' PS2=''
unsetopt beep
setopt no_auto_list
bindkey -e
fpath=($ZC_DIR $fpath)
autoload -Uz compinit && compinit -u -D
compadd() {
	# calls that only ask (-O, -A, -D: results into an array) add nothing
	if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
		builtin compadd "$@"
		return
	fi
	local -a __hits
	builtin compadd -A __hits "$@"
	(( $#__hits )) && print -rl -- $__hits >> $ZC_TMP/hits
	builtin compadd "$@"
}
# The marker is written when the line editor starts (zle-line-init), not
# when this file is done: until then the terminal is still in canonical
# mode, where keys sent early are held by the kernel's line discipline and
# the ^U sent after the TAB erases them there (a loaded machine: nothing
# offered). Once, for the first line.
zc-ready() {
	print ready > $ZC_TMP/ready
	zle -D zle-line-init
}
zle -N zle-line-init zc-ready
SETUP
export ZC_DIR=$dir ZC_TMP=$tmp
: > $tmp/hits
# until FILE exists (the shell got there) or 30 s: reading its output keeps
# the pty from filling up and blocking it
wait_for() {
	for i in {1..600}; do
		[[ -e $1 ]] && return 0
		zpty -r -t z junk 2> /dev/null
		sleep 0.05
	done
	print -u2 "zsh_complete: the shell never wrote $1"
	return 1
}
zpty z zsh -f -i || { rm -rf $tmp; exit 3; }
# Only now: zpty's child is a fork of this shell, and one holding an EXIT
# trap runs it (removing $tmp) when the pty's zsh exits, before sort below.
trap 'rm -rf $tmp' EXIT
zpty -w z "source $tmp/setup.zsh"
wait_for $tmp/ready || { zpty -d z; exit 4; }
zpty -w -n z "$line"$'\t'
zpty -w -n z $'\C-u'
zpty -w z "print done > $tmp/done"
wait_for $tmp/done || { zpty -d z; exit 4; }
zpty -w z "exit"
zpty -d z
sort -u $tmp/hits
