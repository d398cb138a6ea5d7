#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# TAP: loopback-mtree on malformed input and bad usage, plus a few valid
# hand-written corner cases that must round-trip through -D.
# Exit status 0 unless the harness itself fails ("Bail out!", 99).

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
tool=$top_builddir/tools/loopback-mtree/loopback-mtree
bad=$top_srcdir/tests/data/mtree-bad

if [ ! -x "$tool" ]; then
	echo "Bail out! $tool is not built"
	exit 99
fi
if [ ! -d "$bad" ]; then
	echo "Bail out! $bad is missing"
	exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mtree-bad.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 99
}
trap 'rm -rf "$tmp"' EXIT

# FILE|LINE|part of the message: every file must fail with status 2 and
# "loopback-mtree: PATH:LINE: ..." on stderr.
cases='
unparsable|4|not an address-space:
outside-block|4|outside an address-space:
odd-indent|3|not a positive multiple of 2
first-indent|2|indented by 2 spaces
indent-jump|4|indentation jumps from 4 to 8
two-roots|3|second top-level region
header-no-tree|1|header without a region tree
empty|1|no address-space: block
no-name|2|expected '"'"'): NAME'"'"'
bad-address|3|expected START-END
bad-prio|3|(prio N, TYPE)
unknown-type|3|unknown region type '"'"'flash'"'"'
end-below-start|3|is below start address
size-max|2|2^64-1
child-before-parent|4|before its container
alias-malformed|3|alias without '"'"'@TARGET'"'"'
alias-range|3|is not as long as the alias
alias-children|4|cannot have subregions
alias-unknown|3|is not a known region
alias-ambiguous|3|is ambiguous
section-ambiguous|4|is ambiguous
alias-type|3|has type i/o but its target
alias-loop|3|leads back into itself
section-name|6|shows region '"'"'rom'"'"'
section-unused|4|is not the target of any alias
section-duplicate|9|already has a memory-region: section
'

# valid inputs that -D must reproduce byte for byte
good='ok-corner-cases ok-unmapped-target ok-overflow'

n_cases=$(printf '%s\n' "$cases" | grep -c '|')
n_good=$(set -- $good; echo $#)
n_usage=10
echo "1..$((n_cases + n_good * 2 + n_usage))"

t=0
ok() {
	t=$((t + 1))
	echo "ok $t - $1"
}
not_ok() {
	t=$((t + 1))
	echo "not ok $t - $1"
	if [ -n "$2" ] && [ -s "$2" ]; then
		sed 's/^/# /' "$2"
	fi
}

# expect STATUS DESC PATTERN COMMAND...: exit status and a fixed string
# on stderr (empty PATTERN: stderr must be empty)
expect() {
	_want=$1
	_desc=$2
	_pat=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	_st=$?
	if [ "$_st" -ne "$_want" ]; then
		not_ok "$_desc (exit status $_st, want $_want)" "$tmp/err"
	elif [ -z "$_pat" ] && [ -s "$tmp/err" ]; then
		not_ok "$_desc (unexpected stderr)" "$tmp/err"
	elif [ -n "$_pat" ] && ! grep -qF -e "$_pat" "$tmp/err"; then
		not_ok "$_desc (no '$_pat' on stderr)" "$tmp/err"
	else
		ok "$_desc"
	fi
}

printf '%s\n' "$cases" | {
	while IFS='|' read -r name line msg; do
		[ -n "$name" ] || continue
		f=$bad/$name.txt
		"$tool" -D "$f" >/dev/null 2>"$tmp/err" </dev/null
		st=$?
		if [ ! -f "$f" ]; then
			not_ok "$name: $f is missing"
		elif [ "$st" -ne 2 ]; then
			not_ok "$name: exit status $st, want 2" "$tmp/err"
		elif ! grep -qF -e "loopback-mtree: $f:$line: " "$tmp/err"; then
			not_ok "$name: no '$f:$line: ' on stderr" "$tmp/err"
		elif ! grep -qF -e "$msg" "$tmp/err"; then
			not_ok "$name: no '$msg' on stderr" "$tmp/err"
		else
			ok "$name: line $line: $msg"
		fi
	done
	echo "$t" >"$tmp/count"
}
t=$(cat "$tmp/count")

for g in $good; do
	f=$bad/$g.txt
	expect 0 "$g: accepted" "" "$tool" -D "$f"
	if cmp -s "$f" "$tmp/out"; then
		ok "$g: -D reproduces the input"
	else
		diff -u "$f" "$tmp/out" >"$tmp/diff"
		not_ok "$g: -D reproduces the input" "$tmp/diff"
	fi
done

f=$bad/ok-corner-cases.txt
expect 2 "usage: no FILE" "missing FILE" "$tool"
expect 2 "usage: two FILEs" "extra operand" "$tool" "$f" "$f"
expect 2 "usage: unknown option" "--help" "$tool" --frobnicate "$f"
expect 2 "usage: --terminates names nothing" "no non-alias i/o region" \
	"$tool" --terminates nosuch "$f"
expect 2 "usage: --readonly names nothing" "no region has that name" \
	"$tool" --readonly nosuch "$f"
expect 2 "usage: --terminates and --container on one name" "both" \
	"$tool" --terminates system --container system "$f"
expect 1 "missing file: status 1 and strerror" \
	"$bad/no-such-file.txt: No such file or directory" \
	"$tool" "$bad/no-such-file.txt"
if "$tool" --help >"$tmp/out" 2>"$tmp/err" &&
	grep -q '^Usage: loopback-mtree' "$tmp/out" && [ ! -s "$tmp/err" ]
then
	ok "--help prints the usage on stdout"
else
	not_ok "--help prints the usage on stdout" "$tmp/err"
fi
expect 0 "--version" "" "$tool" --version

# standard input, and its name in messages
if "$tool" -D - <"$f" >"$tmp/out" 2>"$tmp/err" && cmp -s "$f" "$tmp/out"
then
	ok "'-' reads standard input"
else
	not_ok "'-' reads standard input" "$tmp/err"
fi
exit 0
