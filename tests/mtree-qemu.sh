#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# TAP: loopback-mtree against `info mtree` captures of QEMU 7.2.
# For each tests/data/mtree/MACH.treeD (the input), with the options in
# MACH.args (one argument per line, # comments):
#   -D output == MACH.treeD   byte for byte
#   output    == MACH.tree    byte for byte
#   -f output == MACH.flat    after normalising what QEMU takes from hash
#                             tables: FlatView numbers, block order, and the
#                             order of the AS lines inside a block.
# Exit status 0 unless the harness itself fails ("Bail out!", 99).

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
tool=$top_builddir/tools/loopback-mtree/loopback-mtree
data=$top_srcdir/tests/data/mtree

if [ ! -x "$tool" ]; then
	echo "Bail out! $tool is not built"
	exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mtree-qemu.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 99
}
trap 'rm -rf "$tmp"' EXIT

# run_tool ARGSFILE INPUT OPTION...: the tool with OPTIONs, then ARGSFILE's
run_tool() {
	_argsfile=$1
	_input=$2
	shift 2
	if [ -f "$_argsfile" ]; then
		while IFS= read -r _l || [ -n "$_l" ]; do
			case $_l in
			'' | '#'*) continue ;;
			esac
			set -- "$@" "$_l"
		done <"$_argsfile"
	fi
	"$tool" "$@" "$_input"
}

# One line per flat-view block, AS lines sorted, "#n" dropped; blocks sorted.
normalize_flat() {
	LC_ALL=C awk '
	function flush(   i, j, t, out) {
		if (!n && !nas && head == "")
			return
		for (i = 2; i <= nas; i++) {
			t = as[i]
			for (j = i - 1; j >= 1 && as[j] > t; j--)
				as[j + 1] = as[j]
			as[j + 1] = t
		}
		out = head
		for (i = 1; i <= nas; i++)
			out = out "\034" as[i]
		for (i = 1; i <= n; i++)
			out = out "\034" rest[i]
		print out
		n = 0
		nas = 0
		head = ""
	}
	/^$/ { flush(); next }
	/^FlatView #[0-9]+$/ { head = "FlatView #"; next }
	/^ AS "/ { as[++nas] = $0; next }
	{ rest[++n] = $0 }
	END { flush() }' "$1" | LC_ALL=C sort |
	LC_ALL=C awk '{ gsub("\034", "\n"); print; print "" }'
}

t=0
ok() {
	t=$((t + 1))
	echo "ok $t - $1"
}
not_ok() {
	t=$((t + 1))
	echo "not ok $t - $1"
}

# check DESC EXPECTED ACTUAL STATUS STDERR
check() {
	if [ "$4" -ne 0 ]; then
		not_ok "$1 (exit status $4)"
		sed 's/^/# /' "$5"
	elif cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diff -u "$2" "$3" | head -n 40 | sed 's/^/# /'
	fi
}

machines=
for f in "$data"/*.treeD; do
	[ -f "$f" ] || continue
	m=${f##*/}
	machines="$machines ${m%.treeD}"
done

if [ -z "$machines" ]; then
	echo "1..1"
	echo "not ok 1 - no captures found in $data"
	exit 0
fi

set -- $machines
echo "1..$(($# * 3))"

for m in $machines; do
	in=$data/$m.treeD
	args=$data/$m.args

	run_tool "$args" "$in" -D >"$tmp/$m.treeD" 2>"$tmp/err"
	check "$m: -D reproduces $m.treeD" "$in" "$tmp/$m.treeD" $? \
		"$tmp/err"

	if [ -f "$data/$m.tree" ]; then
		run_tool "$args" "$in" >"$tmp/$m.tree" 2>"$tmp/err"
		check "$m: plain output is $m.tree" "$data/$m.tree" \
			"$tmp/$m.tree" $? "$tmp/err"
	else
		not_ok "$m: $m.tree is missing"
	fi

	if [ -f "$data/$m.flat" ]; then
		run_tool "$args" "$in" -f >"$tmp/$m.flat" 2>"$tmp/err"
		st=$?
		normalize_flat "$data/$m.flat" >"$tmp/$m.flat.want"
		normalize_flat "$tmp/$m.flat" >"$tmp/$m.flat.got"
		check "$m: -f matches $m.flat (normalised)" \
			"$tmp/$m.flat.want" "$tmp/$m.flat.got" $st "$tmp/err"
	else
		not_ok "$m: $m.flat is missing"
	fi
done
exit 0
