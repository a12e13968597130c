#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installing like a service: `make install DESTDIR=...` from the build tree
# puts the daemon, the systemd template unit understudy@.service, the manual
# page understudy(8) and both example configs in place; systemd-analyze
# verify accepts the installed unit (its binary paths pointed into DESTDIR,
# its man: page found there); the unit starts a standby, never a primary;
# the page renders without a groff warning; the page and the example config
# name every key of the table in replicator/config.c; `make uninstall`
# removes it all. Needs no root and no QEMU; the temporary tree goes on exit.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

tmp=$(mktemp -d /tmp/us-install.XXXXXX) || fail "mktemp -d failed"
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

# bmake: make in the build tree, not as part of the make that runs this test.
bmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" "$@"; }

# one NAME PATTERN: the single installed file whose path matches PATTERN.
one() {
	local found
	found=$(find "$dest" -type f -path "$2")
	[ -n "$found" ] || fail "$1 not installed (no $2 under DESTDIR): $(find "$dest" -type f)"
	[ "$(printf '%s\n' "$found" | wc -l)" = 1 ] || fail "$1 installed twice: $found"
	echo "$found"
}

command -v systemd-analyze >/dev/null || fail "systemd-analyze missing: apt-get install systemd"
bmake install DESTDIR="$dest" > "$tmp/install.log" 2>&1 ||
	fail "make install: $(tail -5 "$tmp/install.log")"

bin=$(one "the daemon" '*/bin/understudy') || exit 1
unit=$(one "understudy@.service" '*/systemd/system/understudy@.service') || exit 1
page=$(one "understudy(8)" '*/man/man8/understudy.8') || exit 1
web=$(one "web.conf.example" '*/doc/understudy/examples/web.conf.example') || exit 1
one "corosync.conf.example" '*/doc/understudy/examples/corosync.conf.example' >/dev/null || exit 1
[ -x "$bin" ] || fail "$bin is not executable"
"$bin" --version | grep -q '^understudy ' || fail "the installed binary does not run"
note "installed: ${bin#"$dest"} ${unit#"$dest"} ${page#"$dest"} ${web#"$dest"} and corosync.conf.example"

# The unit runs the installed binary, checks the host first, starts a standby only.
grep -q '@[a-z_]*@' "$unit" && fail "unsubstituted @...@ in $unit: $(grep '@[a-z_]*@' "$unit")"
exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
[ "$dest$exe" = "$bin" ] || fail "ExecStart runs '$exe', the binary is installed as '${bin#"$dest"}'"
grep -q "^ExecStart=$exe standby -c /etc/understudy/%i.conf\$" "$unit" ||
	fail "ExecStart is not the standby of /etc/understudy/%i.conf: $(grep '^ExecStart=' "$unit")"
grep -q "^ExecStartPre=$exe check --host " "$unit" || fail "no host check before the daemon"
grep -q 'primary' <(grep '^Exec' "$unit") && fail "the unit can start a primary"
for want in Restart=no KillMode=control-group LimitMEMLOCK=infinity 'Documentation=man:understudy(8)'; do
	grep -qx "$want" "$unit" || fail "$unit lacks $want"
done

# systemd-analyze verify: a copy whose binary is the DESTDIR one, the man:
# page looked up in DESTDIR. It exits 0 on mere warnings: none may name the unit.
mkdir -p "$tmp/verify" && sed "s|=$exe |=$bin |" "$unit" > "$tmp/verify/understudy@.service"
(cd "$tmp/verify" && MANPATH=${page%/man8/*} SYSTEMD_LOG_COLOR=0 \
	systemd-analyze verify "$tmp/verify/understudy@.service") > "$tmp/verify.log" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$tmp/verify.log")"
grep -q 'understudy@' "$tmp/verify.log" && fail "systemd-analyze verify warns: $(cat "$tmp/verify.log")"
# ... and the same check does catch a misspelt key
sed 's/^Restart=no/Restrat=no/' "$tmp/verify/understudy@.service" > "$tmp/verify/bad@.service"
MANPATH=${page%/man8/*} systemd-analyze verify "$tmp/verify/bad@.service" 2>&1 |
	grep -q "Restrat" || fail "systemd-analyze verify missed a misspelt key"
note "systemd-analyze verify: understudy@.service clean"

# The page renders, without a warning.
if command -v groff >/dev/null; then
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$warn" ] || fail "groff warns about understudy.8: $warn"
	if command -v man >/dev/null; then
		MANWIDTH=80 man -l "$page" 2>&1 | head -1 | grep -q '^UNDERSTUDY(8)' ||
			fail "man -l does not render understudy.8: $(MANWIDTH=80 man -l "$page" 2>&1 | head -3)"
	fi
	note "understudy.8 renders without warnings"
else
	note "no groff here: rendering not checked"
fi

# Every key of the table, in its section, in the page and in the example.
# in_sections FILE HEADER KEYLINE: "section key" for each line of FILE that
# matches the regular expression KEYLINE, under the last line matching HEADER.
in_sections() {
	awk -v h="$2" -v k="$3" '$0 ~ h { s = $0; sub(h, "", s); sub(/[]"].*/, "", s); next }
		$0 ~ k { n = $0; sub(/ =.*/, "", n); sub(/^[^a-z_]*/, "", n); print s, n }' "$1" |
		sort -u
}
sed -n 's/^\t{ "\([a-z]*\)", "\([a-z_]*\)", set_.*/\1 \2/p' "$top_srcdir/replicator/config.c" |
	sort -u > "$tmp/keys"
[ "$(wc -l < "$tmp/keys")" -ge 30 ] || fail "read only $(wc -l < "$tmp/keys") keys from replicator/config.c"
in_sections "$page" '^[.]SS "[[]' '^[.]BI? "?[a-z_]+ =' > "$tmp/page.keys"
in_sections "$web" '^[[]' '^#?[a-z_]+ =' > "$tmp/web.keys"
missing=$(comm -23 "$tmp/keys" "$tmp/page.keys" | tr '\n' ',')
[ -z "$missing" ] || fail "understudy.8 does not describe: $missing"
missing=$(comm -23 "$tmp/keys" "$tmp/web.keys" | tr '\n' ',')
[ -z "$missing" ] || fail "web.conf.example does not show: $missing"
note "understudy.8 and web.conf.example name all $(wc -l < "$tmp/keys") keys"

bmake uninstall DESTDIR="$dest" > "$tmp/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -5 "$tmp/uninstall.log")"
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "PASS: installs the daemon, understudy@.service (verified), understudy(8) and the examples"
