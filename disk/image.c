/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opening the VM's disk for the NBD server: a raw file or block device,
 * read-write, with an exclusive open-file-description lock on the byte
 * range QEMU uses for its own image locks (QEMU takes shared locks on
 * bytes 100.. and 200.. of every image it opens), so that a QEMU or
 * qemu-img opening the file directly, or a second understudy, is refused
 * and so is this one while they hold it. Image formats QEMU would probe
 * (qcow2 and friends) are refused: the server exports bytes as they are.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/image.h"
#include "replicator/log.h"

/* QEMU's lock bytes: 100 + permission bit, 200 + shared-permission bit. */
#define IMAGE_LOCK_START 100
#define IMAGE_LOCK_LEN 200

struct us_image {
	int fd;	       /* read-write, holds the OFD lock */
	uint64_t size; /* bytes */
};

/* Formats QEMU would probe instead of treating the file as raw. */
static const struct {
	const char *name;
	const char magic[8];
	size_t len;
} image_formats[] = {
	{ "qcow2", "QFI\xfb", 4 },
	{ "qed", "QED\0", 4 },
	{ "vmdk", "KDMV", 4 },
	{ "vhdx", "vhdxfile", 8 },
};

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int ret = -errno;

	if (fd >= 0)
		return fd;
	if (ret == -ENOENT)
		us_log(LOG_ERR, US_TAG_DISK,
		       "disk image %s does not exist: create it (qemu-img create -f raw %s SIZE) "
		       "or fix [vm] disk",
		       path, path);
	else if (ret == -EISDIR)
		us_log(LOG_ERR, US_TAG_DISK,
		       "disk image %s is a directory: give a raw image file or a block device",
		       path);
	else if (ret == -EACCES || ret == -EROFS || ret == -EPERM)
		us_log(LOG_ERR, US_TAG_DISK,
		       "disk image %s cannot be opened read-write: %s; make it writable "
		       "(chmod u+w, or a read-write filesystem)",
		       path, strerror(-ret));
	else
		us_log(LOG_ERR, US_TAG_DISK, "cannot open disk image %s: %s", path, strerror(-ret));
	return ret;
}

static int get_size(int fd, const char *path, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return -errno;
	} else {
		us_log(LOG_ERR, US_TAG_DISK,
		       "disk image %s is neither a regular file nor a block device: "
		       "give a raw image file or a block device",
		       path);
		return -EINVAL;
	}
	if (*size == 0) {
		us_log(LOG_ERR, US_TAG_DISK,
		       "disk image %s is empty: give it a size (qemu-img create -f raw %s SIZE)",
		       path, path);
		return -EINVAL;
	}
	return 0;
}

static int check_raw(int fd, const char *path)
{
	char head[8] = { 0 };
	size_t i;

	if (pread(fd, head, sizeof(head), 0) < 0)
		return -errno;
	for (i = 0; i < sizeof(image_formats) / sizeof(image_formats[0]); i++) {
		if (memcmp(head, image_formats[i].magic, image_formats[i].len) != 0)
			continue;
		us_log(LOG_ERR, US_TAG_DISK,
		       "disk image %s is %s: %s is not supported: convert it with "
		       "qemu-img convert -O raw %s NEW.raw",
		       path, image_formats[i].name, image_formats[i].name, path);
		return -EMEDIUMTYPE;
	}
	return 0;
}

/* Is /proc/PID/fd/NAME the file (dev, ino)? */
static int fd_is_file(const char *pid, const char *name, const struct stat *want)
{
	char link[PATH_MAX];
	struct stat st;

	snprintf(link, sizeof(link), "/proc/%s/fd/%s", pid, name);
	return stat(link, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

static int pid_has_file(const char *pid, const struct stat *want)
{
	char path[64];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (de = readdir(d)))
		found = de->d_name[0] != '.' && fd_is_file(pid, de->d_name, want);
	closedir(d);
	return found;
}

/* Name a process (other than us) that has the image open: "comm pid N". */
static void find_holder(int fd, char *who, size_t size)
{
	char self[16], comm_path[64];
	struct dirent *de;
	struct stat want;
	FILE *f;
	DIR *d;

	snprintf(who, size, "another process");
	snprintf(self, sizeof(self), "%d", (int)getpid());
	if (fstat(fd, &want) < 0 || !(d = opendir("/proc")))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || !strcmp(de->d_name, self) ||
		    !pid_has_file(de->d_name, &want))
			continue;
		snprintf(comm_path, sizeof(comm_path), "/proc/%s/comm", de->d_name);
		f = fopen(comm_path, "r");
		if (f && fscanf(f, "%63s", comm_path) == 1)
			snprintf(who, size, "%s (pid %s)", comm_path, de->d_name);
		if (f)
			fclose(f);
		break;
	}
	closedir(d);
}

static int lock_image(int fd, const char *path)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = IMAGE_LOCK_START,
		.l_len = IMAGE_LOCK_LEN,
	};
	char who[128];
	int ret;

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	ret = -errno;
	if (ret != -EAGAIN && ret != -EACCES) {
		us_log(LOG_ERR, US_TAG_DISK, "cannot lock disk image %s: %s", path, strerror(-ret));
		return ret;
	}
	find_holder(fd, who, sizeof(who));
	us_log(LOG_ERR, US_TAG_DISK,
	       "disk image %s is in use by %s: stop it, or give this VM an image of its own", path,
	       who);
	return -EBUSY;
}

/* Lock, size and format checks on the open image: 0 or -errno, logged. */
static int check_image(int fd, const char *path, uint64_t *size)
{
	int ret = lock_image(fd, path);

	if (!ret)
		ret = get_size(fd, path, size);
	if (!ret)
		ret = check_raw(fd, path);
	return ret;
}

int us_image_open(const char *path, struct us_image **out)
{
	struct us_image *img;
	uint64_t size = 0;
	int fd, ret;

	fd = open_rw(path);
	if (fd < 0)
		return fd;
	ret = check_image(fd, path, &size);
	if (ret) {
		close(fd);
		return ret;
	}
	img = calloc(1, sizeof(*img));
	if (!img) {
		close(fd);
		return -ENOMEM;
	}
	img->fd = fd;
	img->size = size;
	*out = img;
	us_log(LOG_INFO, US_TAG_DISK, "disk image %s: raw, %llu bytes, locked", path,
	       (unsigned long long)size);
	return 0;
}

int us_image_fd(const struct us_image *img)
{
	return img->fd;
}

uint64_t us_image_size(const struct us_image *img)
{
	return img->size;
}

void us_image_close(struct us_image *img)
{
	if (!img)
		return;
	if (img->fd >= 0 && close(img->fd) < 0)
		us_log(LOG_WARNING, US_TAG_DISK, "closing the disk image: %s", strerror(errno));
	free(img);
}
