/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `fswriter`: mounts the ext4 disk (/dev/vda, made on the
 * host with mkfs.ext4) on /mnt and writes small files as an application that
 * cares about durability does: create a temporary file, write it, fsync it,
 * rename it into place, fsync the directory; only then is "us-fswriter N"
 * printed. File N goes to slot N % 128 of /mnt/us-fswriter, so the disk never
 * fills. At start every file already there is checked (its first line names
 * its N, the rest is derived from N) and writing goes on after the highest
 * N found: after a crash or a takeover, each file the console announced must
 * be there, whole. Usage: fswriter [DEVICE [MOUNTPOINT]] (/dev/vda, /mnt).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/workload.h"

#define DEFAULT_DEVICE "/dev/vda"
#define DEFAULT_MOUNT "/mnt"
#define SUBDIR "us-fswriter"
#define TMP_NAME "new.tmp"
#define SLOTS 128
#define FILE_SIZE 1024
#define MOUNT_TRIES 50 /* 100 ms apart: the disk may still be probing */

/* file_content: what file @n holds, FILE_SIZE bytes into @buf. */
static void file_content(uint64_t n, char *buf)
{
	int i, len;

	len = snprintf(buf, FILE_SIZE, "us-fswriter %llu\n", (unsigned long long)n);
	for (i = len; i < FILE_SIZE; i++)
		buf[i] = 'a' + (n * 7 + i) % 26;
}

/* mount_disk: @dev as ext4 on @dir, retried while the device appears. */
static int mount_disk(const char *dev, const char *dir)
{
	int i;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (i = 0; i < MOUNT_TRIES; i++) {
		if (mount(dev, dir, "ext4", 0, NULL) == 0)
			return 0;
		if (errno != ENOENT && errno != ENXIO)
			break;
		usleep(100000);
	}
	return -errno;
}

/* open_subdir: our directory on the file system, made when missing. */
static int open_subdir(const char *mnt)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mnt, SUBDIR);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* read_file: @name's whole content (up to @cap bytes). @return its length
 * or -errno. */
static ssize_t read_file(int dirfd, const char *name, char *buf, size_t cap)
{
	ssize_t n, got = 0;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	n = n < 0 ? -errno : got;
	close(fd);
	return n;
}

/* slot_name: the name of file @n's slot, into @name. */
static void slot_name(uint64_t n, char *name, size_t cap)
{
	snprintf(name, cap, "f-%03u", (unsigned int)(n % SLOTS));
}

/* check_file: @return the N file @name holds intact and in its own slot,
 * or 0 when it does not. */
static uint64_t check_file(int dirfd, const char *name)
{
	char got[FILE_SIZE + 1], want[FILE_SIZE], slot[32];
	unsigned long long n;

	if (read_file(dirfd, name, got, sizeof(got)) != FILE_SIZE)
		return 0;
	got[FILE_SIZE] = 0;
	if (sscanf(got, "us-fswriter %llu\n", &n) != 1 || n == 0)
		return 0;
	file_content(n, want);
	slot_name(n, slot, sizeof(slot));
	return memcmp(got, want, FILE_SIZE) || strcmp(name, slot) ? 0 : n;
}

/* scan: check every slot file; @return the highest N, or -EUCLEAN when
 * a slot file is damaged. */
static int64_t scan(int dirfd)
{
	uint64_t last = 0, n;
	struct dirent *e;
	int fd, files = 0, bad = 0;
	DIR *d;

	fd = dup(dirfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "f-", 2))
			continue;
		n = check_file(dirfd, e->d_name);
		files++;
		if (!n) {
			us_wl_print("us-fswriter: %s/%s is damaged", SUBDIR, e->d_name);
			bad++;
		}
		last = n > last ? n : last;
	}
	closedir(d);
	us_wl_print("us-fswriter: %d files checked, %d damaged", files, bad);
	return bad ? -EUCLEAN : (int64_t)last;
}

/* write_all: the whole buffer, or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* write_one: file @n durably in its slot: tmp, write, fsync, rename, fsync
 * the directory. */
static int write_one(int dirfd, uint64_t n)
{
	char buf[FILE_SIZE], name[32];
	int fd, ret;

	file_content(n, buf);
	fd = openat(dirfd, TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, buf, FILE_SIZE);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret < 0)
		return ret;
	slot_name(n, name, sizeof(name));
	if (renameat(dirfd, TMP_NAME, dirfd, name) < 0 || fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : DEFAULT_DEVICE;
	const char *mnt = argc > 2 ? argv[2] : DEFAULT_MOUNT;
	int64_t last;
	uint64_t n;
	int dirfd, ret;

	if (argc > 3) {
		us_wl_print("us-fswriter: usage: fswriter [DEVICE [MOUNTPOINT]]");
		return 2;
	}
	ret = mount_disk(dev, mnt);
	if (ret < 0) {
		us_wl_print("us-fswriter: cannot mount %s (ext4) on %s: %s", dev, mnt,
			    strerror(-ret));
		return 1;
	}
	dirfd = open_subdir(mnt);
	last = dirfd < 0 ? dirfd : scan(dirfd);
	if (last < 0) {
		us_wl_print("us-fswriter: cannot go on with %s/%s: %s", mnt, SUBDIR,
			    strerror((int)-last));
		return 1;
	}
	us_wl_print("us-fswriter: resuming after file %lld", (long long)last);
	for (n = last + 1;; n++) {
		ret = write_one(dirfd, n);
		if (ret < 0) {
			us_wl_print("us-fswriter: file %llu: %s", (unsigned long long)n,
				    strerror(-ret));
			return 1;
		}
		us_wl_print("us-fswriter %llu", (unsigned long long)n);
	}
}
