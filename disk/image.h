/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VM's disk image as the NBD server serves it: a raw image file or a
 * block device, opened read-write and locked against every other user the
 * way QEMU locks its images, so that neither a second understudy nor a QEMU
 * opening the file directly can write to it behind the replication.
 */
#ifndef US_IMAGE_H
#define US_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct us_image;

/**
 * Open @path read-write, check it is raw (a regular file or block device,
 * not qcow2 or another format QEMU would probe), lock it and get its size.
 * Every refusal is logged with its cause and the fix.
 * @return 0 and *@out, or -errno: -ENOENT missing, -EACCES/-EROFS not
 *	   writable, -EBUSY in use by another process, -EMEDIUMTYPE not raw,
 *	   -EINVAL not a file or block device, or empty.
 */
int us_image_open(const char *path, struct us_image **out);

/** @return the image's fd (read-write; owned by @img). */
int us_image_fd(const struct us_image *img);

/** @return the image's size in bytes. */
uint64_t us_image_size(const struct us_image *img);

/** Write all @len bytes of @buf at @off of image @fd. @return 0 or -errno. */
int us_image_pwrite(int fd, const void *buf, size_t len, uint64_t off);

/**
 * Make [@off, @off + @len) of image @fd read as zeroes: a hole if
 * @may_punch, else an allocated zero range, else written zeroes.
 * @return 0 or -errno.
 */
int us_image_zero(int fd, uint64_t off, uint64_t len, int may_punch);

/** Unlock and close @img. NULL is a no-op. */
void us_image_close(struct us_image *img);

#endif
