#!/usr/bin/env bash
# The generated man pages render without warnings and name every subcommand --help lists; the bash
# completion completes subcommands, options and files where el3ctl takes them; the systemd user unit
# passes systemd-analyze (when the machine has systemd; otherwise that part is reported skipped).
set -euo pipefail
out=$1 el3ctl=$2 el3d=$3
fail() { echo "FAIL: $*"; exit 1; }

for page in el3ctl el3d; do
	[ -s "$out/$page.1" ] || fail "$out/$page.1 missing"
	if command -v groff >/dev/null; then
		warnings=$(groff -man -Tutf8 -ww -z "$out/$page.1" 2>&1) || fail "groff: $warnings"
		[ -z "$warnings" ] || fail "groff warns on $page.1: $warnings"
	fi
done
# Every subcommand of `el3ctl --help` has its section, every option of `el3d --help` is described.
for sub in $("$el3ctl" --help | awk '/^Subcommands:/ { s = 1; next } s && /^  [a-z]/ { print $1 }'); do
	grep -q "^\.SS el3ctl $sub\$" "$out/el3ctl.1" || fail "el3ctl.1 has no section for '$sub'"
done
for opt in $("$el3d" --help | grep -o '^  --[a-z-]*'); do
	pat="\\fB${opt//-/\\-}"
	grep -qF -- "$pat" "$out/el3d.1" || fail "el3d.1 does not describe $opt"
done

# Completion, as bash calls it.
source "$out/el3ctl.bash"
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_el3ctl
	echo "${COMPREPLY[*]}"
}
[ "$(complete_words el3ctl tr)" = "trace" ] || fail "el3ctl tr -> '$(complete_words el3ctl tr)'"
[ "$(complete_words el3ctl trace s)" = "show set" ] || fail "el3ctl trace s -> '$(complete_words el3ctl trace s)'"
[ "$(complete_words el3ctl alloc --s)" = "--size" ] || fail "alloc --s -> '$(complete_words el3ctl alloc --s)'"
[ "$(complete_words el3ctl --socket /x mem r)" = "read" ] || fail "options before the subcommand"
touch "$out/completion-probe.jsonl"
[ "$(complete_words el3ctl replay --carveout "$out/completion-pro")" = "$out/completion-probe.jsonl" ] ||
	fail "a file after --carveout"
# `trace --ring` is a flag: after it come the command's words, not files.
case " $(complete_words el3ctl trace --ring '') " in *" show "*) ;; *) fail "trace --ring took a value" ;; esac

if command -v systemd-analyze >/dev/null; then
	# System mode: a user manager needs a session this test may not have; the unit's syntax, its
	# ExecStart and its settings are checked the same way (--man=no: the pages are not installed yet).
	msg=$(systemd-analyze verify --man=no "$out/test/el3d.service" 2>&1) || fail "systemd-analyze: $msg"
	[ -z "$msg" ] || fail "systemd-analyze objects to the unit: $msg"
else
	echo "systemd-analyze not installed: the unit was not verified"
fi
echo "cli docs: man pages, completion and the systemd unit OK"
