#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes x509 certificates in libvirt's layout for tests (tls = x509): in DIR,
# a CA (ca-cert.pem, and ca-key.pem to sign with), server-cert.pem and
# server-key.pem naming HOST (an IP address or a DNS name, in
# subjectAltName), client-cert.pem and client-key.pem. ECDSA P-256, valid
# one day, with openssl. Usage: mkcerts.sh DIR HOST [CA-NAME]
set -euo pipefail
dir=$1 host=$2 ca=${3:-understudy test CA}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null; }
key ca-key.pem
openssl req -x509 -new -key ca-key.pem -days 1 -subj "/CN=$ca" -out ca-cert.pem \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2> /dev/null
case $host in
*[!0-9.]*) san=DNS:$host ;;
*) san=IP:$host ;;
esac
for role in server client; do
	key "$role-key.pem"
	usage=serverAuth
	[ "$role" = client ] && usage=clientAuth
	printf 'subjectAltName=%s\nextendedKeyUsage=%s\nkeyUsage=critical,digitalSignature\n' \
		"$san" "$usage" > "$role.ext"
	openssl req -new -key "$role-key.pem" -subj "/CN=$host $role" -out "$role.csr" 2> /dev/null
	openssl x509 -req -in "$role.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
		-days 1 -extfile "$role.ext" -out "$role-cert.pem" 2> /dev/null
	rm -f "$role.csr" "$role.ext"
done
chmod 600 ./*-key.pem
