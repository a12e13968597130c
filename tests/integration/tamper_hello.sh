#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile primaries against a keyed standby that holds a committed epoch
# (issue 13): the keyed pair runs through the tampering proxy
# (tests/lib/tamper.sh), which records the session's handshake; the
# primary is paused at a committed epoch E (the replica checked equal to its
# RAM and copied) and stopped. Then, each time checking that the standby
# still holds E byte for byte and that both sides' logs say why:
#  1. the recorded HELLO (and AUTH) replayed by the proxy on a connection of
#     its own: the standby CHALLENGEs it with a fresh nonce, and the
#     recorded AUTH fails its tag;
#  2. a primary with another key: it refuses the standby's proof, the
#     standby says the primary left before authenticating;
#  3. a primary without a key: refused by the keyed standby (no downgrade),
#     and the primary says so.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$top_srcdir/tests/lib/lab.sh"
. "$top_srcdir/tests/lib/tamper.sh"
trap 'tamper_down; lab_down' EXIT

lab_up || fail "cannot build the lab"
tamper_up || fail "cannot start the tampering proxy"
tamper_start hB standby
lab_wait 30 lab_answers hB || fail "the standby did not start"
tamper_start hA primary
lab_wait 180 lab_acked_at_least 5 || fail "no epoch acknowledged through the proxy: $(tail -3 "$LAB_DIR/hA.log")"
tamper record >/dev/null || fail "record: $(tamper record)"
[ "$(tamper_stat recorded_hello)" -ge 2 ] || fail "the proxy kept no HELLO and AUTH: $(tamper stats)"
e=$(tamper_snapshot) || fail "no committed epoch to start from"
lab_stop_host hA
note "the standby holds epoch $e; the primary is stopped"

# primary_gone: the primary of a step has stopped, or is stopped now
primary_gone() { lab_stop_host hA; }

# 1. a replayed HELLO
tamper_mark
tamper replay-hello >/dev/null || fail "replay-hello: $(tamper replay-hello)"
tamper_logged hB "authentication tag mismatch on AUTH" ||
	fail "replayed HELLO: the standby did not refuse the recorded AUTH"
lab_wait 10 sh -c "grep -q 'replay-hello: the standby closed' '$TAMPER_LOG'" ||
	fail "replayed HELLO: the standby did not close the connection"
[ "$(tamper_stat replay_answers)" = CHALLENGE,REFUSE ] ||
	fail "replayed HELLO: the standby answered $(tamper_stat replay_answers), not a CHALLENGE then a REFUSE"
grep -q "replay-hello: the standby answered REFUSE" "$TAMPER_LOG" || fail "no REFUSE"
tamper_replica_same "$e" || fail "replayed HELLO: the replica is not as at epoch $e"
note "replayed HELLO: challenged, its AUTH refused, the refusal sent back, replica as at epoch $e"

# 2. another key on the primary
"$US_BIN" keygen "$LAB_DIR/other.key" >/dev/null || fail "keygen"
tamper_mark
tamper_start hA primary "$LAB_DIR/other.key"
tamper_logged hA "standby $(lab_ip hB):$TAMPER_PORT failed authentication: its proof does not match our key" 60 ||
	fail "wrong key: the primary did not refuse the standby's proof"
tamper_logged hB "the primary .* closed the connection before it authenticated: the two hosts' key_file differ" ||
	fail "wrong key: the standby does not say why the primary left"
primary_gone
tamper_replica_same "$e" || fail "wrong key: the replica is not as at epoch $e"
note "wrong key: refused on both sides, replica as at epoch $e"

# 3. no key on the primary
tamper_mark
tamper_start hA primary none
tamper_logged hB "primary .* offers no authentication and this standby has a key_file: refused" 60 ||
	fail "no key: the standby did not refuse a primary without a key"
tamper_logged hA "refused: primary .* offers no authentication" ||
	fail "no key: the primary does not say why it was refused"
grep -a -q UNAUTHENTICATED "$LAB_DIR/hA.log" || fail "no key: the keyless primary did not warn loudly"
primary_gone
tamper_replica_same "$e" || fail "no key: the replica is not as at epoch $e"
note "no key: refused, no downgrade, replica as at epoch $e"

[ "$(lab_field hB committed)" = "$e" ] || fail "the standby committed something after epoch $e"
echo "PASS: a replayed HELLO, another key and no key refused, the replica as at epoch $e"
