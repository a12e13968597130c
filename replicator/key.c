/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Key files (key.h): generation from getrandom, and loading with the checks
 * an operator needs told, in words, before a daemon runs on a bad key.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replicator/key.h"

int us_key_generate(const char *path, char *why, size_t len)
{
	unsigned char k[US_AUTH_KEY_LEN];
	char hex[2 * US_AUTH_KEY_LEN + 2];
	int fd, rc = us_auth_random(k, sizeof(k));
	size_t i;

	if (rc < 0) {
		snprintf(why, len, "no random bytes from the kernel: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < sizeof(k); i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
	hex[2 * sizeof(k)] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, len, "cannot create %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (a key is never overwritten: remove it first)" : "");
		return rc;
	}
	if (write(fd, hex, 2 * sizeof(k) + 1) != (ssize_t)(2 * sizeof(k) + 1) || fsync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		snprintf(why, len, "cannot write %s: %s", path, strerror(-rc));
		close(fd);
		unlink(path);
		return rc;
	}
	memset(k, 0, sizeof(k));
	memset(hex, 0, sizeof(hex));
	return close(fd) < 0 ? -errno : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse(const char *text, size_t n, struct us_auth_key *key)
{
	size_t i;

	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n != 2 * US_AUTH_KEY_LEN)
		return -EINVAL;
	for (i = 0; i < US_AUTH_KEY_LEN; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		key->k[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int us_key_load(const char *path, struct us_auth_key *key, char *why, size_t len)
{
	char text[2 * US_AUTH_KEY_LEN + 8];
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, len,
			 "cannot open key_file %s: %s (make one with `understudy keygen "
			 "%s` and copy it to the other host)",
			 path, strerror(errno), path);
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, len, "key_file %s is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(why, len,
			 "key_file %s can be read or written by others (mode %03o): "
			 "chmod 600 %s",
			 path, (unsigned)(st.st_mode & 0777), path);
		return -EPERM;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	rc = n < 0 ? -errno : parse(text, (size_t)n, key);
	memset(text, 0, sizeof(text));
	if (rc < 0)
		snprintf(why, len,
			 "key_file %s does not hold a key (64 hex digits, as `understudy "
			 "keygen` writes)",
			 path);
	return rc;
}
