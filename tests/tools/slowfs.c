// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slowfs: a FUSE passthrough of one directory, for understudy-lab's
 * slow-disk fault (lab/faults.sh): the lab mounts it where a host's disk
 * image lives, and while the control file says so every write and fsync is
 * late by DELAY ms, or fails with ENOSPC (a full disk without filling one).
 * The control file (--ctl) holds "delay_ms N enospc 0|1"; it is read again
 * when its mtime changes (checked at most every 100 ms). The counters, from
 * the last setting on, go to --stats after every delayed or refused
 * operation. Single-threaded: a slow
 * write holds up the next operation, as a slow device would.
 *
 * Usage: slowfs BACKING_DIR MOUNTPOINT --ctl FILE --stats FILE
 */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int bfd = -1;
static const char *ctl_path, *stats_path;
static long delay_ms;
static int enospc;
static unsigned long writes, fsyncs, delayed, refused;
static struct timespec ctl_mtime, ctl_checked;

/* rel: a FUSE path as a path relative to the backing directory */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void sf_read_ctl(void)
{
	struct stat st;
	FILE *f;
	long d = 0;
	int e = 0;

	if (ms_since(&ctl_checked) < 100)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ctl_checked);
	if (stat(ctl_path, &st) < 0 ||
	    (st.st_mtim.tv_sec == ctl_mtime.tv_sec && st.st_mtim.tv_nsec == ctl_mtime.tv_nsec))
		return;
	ctl_mtime = st.st_mtim;
	f = fopen(ctl_path, "r");
	if (!f)
		return;
	if (fscanf(f, "delay_ms %ld enospc %d", &d, &e) == 2) {
		/* the counters count from each new setting: one fault's */
		writes = fsyncs = delayed = refused = 0;
		delay_ms = d;
		enospc = e;
		fprintf(stderr, "slowfs: delay_ms %ld enospc %d\n", d, e);
	}
	fclose(f);
}

static void sf_write_stats(void)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"mechanism fuse writes %lu fsyncs %lu delayed %lu refused %lu delay_ms %ld enospc "
		"%d\n",
		writes, fsyncs, delayed, refused, delay_ms, enospc);
	if (fclose(f) == 0)
		rename(tmp, stats_path);
}

/* sf_fault: the fault for one write or fsync (counted in COUNT, from the
 * setting in force on): 0 after the delay, or -ENOSPC */
static int sf_fault(unsigned long *count)
{
	struct timespec ts;

	sf_read_ctl();
	(*count)++;
	if (enospc) {
		refused++;
		sf_write_stats();
		return -ENOSPC;
	}
	if (delay_ms <= 0)
		return 0;
	ts.tv_sec = delay_ms / 1000;
	ts.tv_nsec = (delay_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	delayed++;
	sf_write_stats();
	return 0;
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (fi)
		return fstat(fi->fh, st) < 0 ? -errno : 0;
	return fstatat(bfd, rel(path), st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	int fd = openat(bfd, rel(path), O_RDONLY | O_DIRECTORY);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((e = readdir(d)))
		fill(buf, e->d_name, NULL, 0, 0);
	closedir(d);
	return 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(bfd, rel(path), fi->flags & ~O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int sf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(bfd, rel(path), fi->flags | O_CREAT, mode);

	if (fd < 0)
		return -errno;
	fi->fh = fd;
	return 0;
}

static int sf_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pread(fi->fh, buf, len, off);

	return n < 0 ? -errno : (int)n;
}

static int sf_write(const char *path, const char *buf, size_t len, off_t off,
		    struct fuse_file_info *fi)
{
	ssize_t n;
	int rc;

	rc = sf_fault(&writes);
	if (rc < 0)
		return rc;
	n = pwrite(fi->fh, buf, len, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int rc;

	rc = sf_fault(&fsyncs);
	if (rc < 0)
		return rc;
	return (datasync ? fdatasync(fi->fh) : fsync(fi->fh)) < 0 ? -errno : 0;
}

static int sf_release(const char *path, struct fuse_file_info *fi)
{
	close(fi->fh);
	return 0;
}

static int sf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, rc;

	if (fi)
		return ftruncate(fi->fh, size) < 0 ? -errno : 0;
	fd = openat(bfd, rel(path), O_WRONLY);
	if (fd < 0)
		return -errno;
	rc = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int sf_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	return fallocate(fi->fh, mode, off, len) < 0 ? -errno : 0;
}

static int sf_unlink(const char *path)
{
	return unlinkat(bfd, rel(path), 0) < 0 ? -errno : 0;
}

static int sf_mkdir(const char *path, mode_t mode)
{
	return mkdirat(bfd, rel(path), mode) < 0 ? -errno : 0;
}

static int sf_rmdir(const char *path)
{
	return unlinkat(bfd, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int sf_rename(const char *from, const char *to, unsigned int flags)
{
	return renameat2(bfd, rel(from), bfd, rel(to), flags) < 0 ? -errno : 0;
}

static int sf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return fchmodat(bfd, rel(path), mode, 0) < 0 ? -errno : 0;
}

static int sf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	return utimensat(bfd, rel(path), tv, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int sf_statfs(const char *path, struct statvfs *st)
{
	return fstatvfs(bfd, st) < 0 ? -errno : 0;
}

static void sf_destroy(void *data)
{
	sf_write_stats();
}

static const struct fuse_operations sf_ops = {
	.getattr = sf_getattr,
	.readdir = sf_readdir,
	.open = sf_open,
	.create = sf_create,
	.read = sf_read,
	.write = sf_write,
	.fsync = sf_fsync,
	.release = sf_release,
	.truncate = sf_truncate,
	.fallocate = sf_fallocate,
	.unlink = sf_unlink,
	.mkdir = sf_mkdir,
	.rmdir = sf_rmdir,
	.rename = sf_rename,
	.chmod = sf_chmod,
	.utimens = sf_utimens,
	.statfs = sf_statfs,
	.destroy = sf_destroy,
};

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], "-f", "-s", "-o", "fsname=understudy-lab-slowfs", NULL, NULL };

	if (argc != 7 || strcmp(argv[3], "--ctl") || strcmp(argv[5], "--stats")) {
		fprintf(stderr, "usage: slowfs BACKING_DIR MOUNTPOINT --ctl FILE --stats FILE\n");
		return 2;
	}
	bfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (bfd < 0) {
		perror(argv[1]);
		return 1;
	}
	ctl_path = argv[4];
	stats_path = argv[6];
	sf_write_stats();
	fprintf(stderr, "slowfs: mechanism fuse: %s over %s\n", argv[2], argv[1]);
	fargv[5] = argv[2];
	return fuse_main(6, fargv, &sf_ops, NULL);
}
