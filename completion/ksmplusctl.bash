# bash completion for ksmplusctl(1).  Installed as
# /usr/share/bash-completion/completions/ksmplusctl (loaded on demand by
# bash-completion); works without bash-completion too when sourced.
#   ksmplusctl <TAB>            commands
#   ksmplusctl add <TAB>        names of running programs (comm), --runtime, --cgroup
#   ksmplusctl add --cgroup <TAB>  cgroup scopes (*.scope under /sys/fs/cgroup)
#   ksmplusctl remove <TAB>     configured apps (from the daemon: ksmplusctl list)
#   ksmplusctl status <TAB>     --json --fresh;  unmerge <TAB>  --all

_ksmplusctl_socket() {  # the --socket given earlier on the line, if any
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == --socket ]]; then
			printf -- '--socket\n%s\n' "${COMP_WORDS[i + 1]}"
			return
		fi
	done
}

_ksmplusctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="add remove list status top metrics analyze reload unmerge resume help"
	local i cmd="" cgroup=0 IFS=$'\n'

	COMPREPLY=()
	if [[ $prev == --socket ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket) ((i++)) ;;
		--cgroup) cgroup=1 ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${COMP_WORDS[i]} ;;
		esac
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W $'--socket\n--help\n--version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "${cmds// /$'\n'}" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	add)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W $'--runtime\n--cgroup\n--wait' -- "$cur"))
		elif ((cgroup)); then
			# systemd scopes and services: what desktop apps run in
			COMPREPLY=($(compgen -W "$(find /sys/fs/cgroup -maxdepth 6 -type d \
				\( -name '*.scope' -o -name '*.service' \) -printf '%f\n' 2>/dev/null |
				sort -u)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(ps -eo comm= 2>/dev/null | sort -u)" -- "$cur"))
		fi
		;;
	remove)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W $'--unmerge\n--runtime\n--cgroup' -- "$cur"))
		else
			# the apps the daemon has, first column of `list`
			COMPREPLY=($(compgen -W "$(ksmplusctl $(_ksmplusctl_socket) list 2>/dev/null |
				awk '{ print $1 }')" -- "$cur"))
		fi
		;;
	status) COMPREPLY=($(compgen -W $'--json\n--fresh' -- "$cur")) ;;
	analyze)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W $'--pid\n--cgroup\n--sample\n--json' -- "$cur"))
		elif [[ $prev == --cgroup ]]; then
			COMPREPLY=($(compgen -W "$(find /sys/fs/cgroup -maxdepth 6 -type d \
				\( -name '*.scope' -o -name '*.service' \) -printf '%f\n' 2>/dev/null |
				sort -u)" -- "$cur"))
		elif [[ $prev != --pid && $prev != --sample ]]; then
			COMPREPLY=($(compgen -W "$(ps -eo comm= 2>/dev/null | sort -u)" -- "$cur"))
		fi
		;;
	top) [[ $prev == -[dn] ]] || COMPREPLY=($(compgen -W $'-d\n-n' -- "$cur")) ;;
	unmerge) COMPREPLY=($(compgen -W '--all' -- "$cur")) ;;
	esac
}
complete -F _ksmplusctl ksmplusctl
