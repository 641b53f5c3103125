# SPDX-License-Identifier: GPL-2.0
# bash completion for cowctl(8).  Needs only bash (not bash-completion).

_cowctl_dirs()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -d -- "$1"))
	compopt -o filenames 2>/dev/null
}

# image, container, driver: a subcommand, then options and names.
_cowctl_storage()
{
	local cmd=$1 cur=$2 prev=$3 sub="" i subs
	case $cmd in
	im*) subs="import ls rm" ;;
	c*) subs="create mount umount rm ls" ;;
	*) subs="ls status up down destroy df" ;;
	esac
	case $prev in
	-d | --driver)
		COMPREPLY=($(compgen -W "cowfs overlay2 devicemapper btrfs zfs" -- "$cur"))
		return ;;
	-r | --root)
		_cowctl_dirs "$cur"
		return ;;
	-p | --parent | -o | --opt)
		return ;;
	esac
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == "$cmd" ]] || continue
		for ((i = i + 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			-d | --driver | -r | --root | -p | --parent | -o | --opt) ((i++)) ;;
			-*) ;;
			*) sub=${COMP_WORDS[i]}; break ;;
			esac
		done
		break
	done
	if [[ -z $sub ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	elif [[ $cur == -* ]]; then
		local o="-d --driver -r --root -j --json -h --help"
		case $sub in
		import) o+=" -p --parent" ;;
		ls) o+=" -s --size -n --noheadings" ;;
		rm) [[ $cmd == c* ]] && o+=" -f --force" ;;
		up) o+=" -o --opt" ;;
		esac
		COMPREPLY=($(compgen -W "$o" -- "$cur"))
	elif [[ $sub == import ]]; then
		local IFS=$'\n'
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
	fi
}

# The mount points of the live cowfs unions (column 2 of 'cowctl ls').
_cowctl_targets()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$(cowctl ls -n 2>/dev/null |
		awk -F '  +' '{ print $2 }')" -- "$1"))
}

# volume: a subcommand, then its options and volume names.
_cowctl_volume()
{
	local cur=$1 prev=$2 sub="" i
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == v* ]] || continue
		for ((i = i + 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			-t | --type | -d | --driver | -o | --opt | -l | --label | --filter) ((i++)) ;;
			-*) ;;
			*) sub=${COMP_WORDS[i]}; break ;;
			esac
		done
		break
	done
	if [[ -z $sub ]]; then
		COMPREPLY=($(compgen -W "create ls inspect rm prune migrate" -- "$cur"))
		return
	fi
	case $sub:$prev in
	c*:-t | c*:--type | c*:-d | c*:--driver)
		COMPREPLY=($(compgen -W "local bind tmpfs" -- "$cur"))
		return ;;
	c*:-o | c*:--opt)
		COMPREPLY=($(compgen -W "device= size= mode= uid= gid= nr_inodes=" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return ;;
	c*:-l | c*:--label)
		return ;;
	m*:-s | m*:--store)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	l*:-f | l*:--filter)
		COMPREPLY=($(compgen -W "dangling=true dangling=false label= name= type=" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return ;;
	esac
	local o="-j --json -h --help"
	case $sub in
	c*) o+=" -t --type -o --opt -l --label" ;;
	l*) o+=" -q --quiet -f --filter -n --noheadings" ;;
	r* | p*) o+=" -f --force" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$o" -- "$cur"))
	elif [[ $sub == i* || $sub == r* ]]; then
		COMPREPLY=($(compgen -W "$(cowctl volume ls -q 2>/dev/null)" -- "$cur"))
	fi
}

_cowctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]}
	local prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="mount umount mount-helper ls info inspect volume events config help image container driver composefs complete"
	local i cmd=""

	# The command is the first word that is not a global option.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-j --json -p --pretty -V --version -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		fi
		return
	fi

	case $cmd in
	m | mo | mou | moun | mount)
		case $prev in
		-l | --layer | -u | --upper | -w | --work | --lowerdir)
			_cowctl_dirs "$cur"
			return ;;
		--volume | -o | --option)
			return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-l --layer --lowerdir -u --upper -w --work --volume -o --option -j --json -h --help" -- "$cur"))
		else
			_cowctl_dirs "$cur"
		fi
		;;
	mount-*)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o -h --help" -- "$cur"))
		else
			_cowctl_dirs "$cur"
		fi
		;;
	u | um | umo | umou | umoun | umount)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-l --lazy -j --json -h --help" -- "$cur"))
		else
			_cowctl_targets "$cur"
		fi
		;;
	ins | insp | inspe | inspec | inspect)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-j --json -h --help" -- "$cur"))
		else
			_cowctl_targets "$cur"
		fi
		;;
	v | vo | vol | volu | volum | volume)
		_cowctl_volume "$cur" "$prev"
		;;
	e | ev | eve | even | event | events)
		COMPREPLY=($(compgen -W "-c --count -j --json -h --help" -- "$cur"))
		;;
	conf | confi | config)
		case $prev in
		-s | --store)
			_cowctl_dirs "$cur"
			return ;;
		esac
		if [[ " ${COMP_WORDS[*]:1:COMP_CWORD-1} " == *" set "* ]]; then
			COMPREPLY=($(compgen -W "-s --store -j --json -h --help" -- "$cur"))
		elif [[ " ${COMP_WORDS[*]:1:COMP_CWORD-1} " == *" get "* ]]; then
			COMPREPLY=($(compgen -W "-j --json -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "get set" -- "$cur"))
		fi
		;;
	l | ls)
		case $prev in
		-F | --file)
			local IFS=$'\n'
			COMPREPLY=($(compgen -f -- "$cur"))
			compopt -o filenames 2>/dev/null
			return ;;
		esac
		COMPREPLY=($(compgen -W "-n --noheadings -F --file -j --json -h --help" -- "$cur"))
		;;
	i | in | inf | info)
		COMPREPLY=($(compgen -W "-j --json -h --help" -- "$cur"))
		;;
	com | comp | compo | compos | compose | composef | composefs)
		if [[ " ${COMP_WORDS[*]:1:COMP_CWORD-1} " == *" build "* ]]; then
			if [[ $cur == -* ]]; then
				COMPREPLY=($(compgen -W "-j --json -h --help" -- "$cur"))
			else
				_cowctl_dirs "$cur"
			fi
		else
			COMPREPLY=($(compgen -W "build" -- "$cur"))
		fi
		;;
	comple | complet | complete)
		case $prev in
		-u | --upper | -l | --lower | -w | --workdir)
			_cowctl_dirs "$cur"
			return ;;
		-o | --option)
			return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-n --dry-run -v --verbose -u --upper -l --lower -w --workdir -o --option -j --json -h --help" -- "$cur"))
		else
			_cowctl_dirs "$cur"
		fi
		;;
	h | he | hel | help)
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		;;
	im | ima | imag | image | c | co | con | cont | conta | contai | contain | containe | container | d | dr | dri | driv | drive | driver)
		_cowctl_storage "$cmd" "$cur" "$prev"
		;;
	esac
}
complete -F _cowctl cowctl
