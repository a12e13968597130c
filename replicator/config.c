/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * INI configuration (see config.h): one table of keys, each with its section,
 * name and setter, so an unknown key or a bad value is reported with its
 * section and what is expected; an unknown key is answered with the nearest
 * known one, in its section or another.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "replicator/config.h"
#include "replicator/dirty.h"
#include "replicator/log.h"

typedef int (*setter_fn)(struct us_config *c, const char *v);

struct key {
	const char *section;
	const char *name;
	setter_fn set;
	const char *expect;	/* shown when the value is refused */
};

struct load_ctx {
	struct us_config *c;
	const char *path;
	int errors;
};

int us_config_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long v;
	const char *u;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
			return -EINVAL;
		for (; u >= units; u--) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
	}
	*out = v;
	return 0;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n < lo || n > hi)
		return -EINVAL;
	*out = n;
	return 0;
}

static int set_str(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -ENAMETOOLONG;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_name(struct us_config *c, const char *v)
{
	const char *p;

	if (!*v)
		return -EINVAL;
	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return -EINVAL;
	return set_str(c->vm.name, sizeof(c->vm.name), v);
}

static int set_memory(struct us_config *c, const char *v)
{
	uint64_t n;

	if (us_config_parse_size(v, &n) < 0 || n < (16u << 20) || n % (2u << 20))
		return -EINVAL;
	c->vm.mem_bytes = n;
	return 0;
}

static int set_vcpus(struct us_config *c, const char *v)
{
	return parse_uint(v, 1, 64, &c->vm.vcpus);
}

static int set_accel(struct us_config *c, const char *v)
{
	if (strcmp(v, "tcg") && strcmp(v, "kvm") && strcmp(v, "auto"))
		return -EINVAL;
	return set_str(c->vm.accel, sizeof(c->vm.accel), v);
}

static int set_mac(struct us_config *c, const char *v)
{
	unsigned b[6];
	char tail;

	if (*v && sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
			 &b[5], &tail) != 6)
		return -EINVAL;
	return set_str(c->vm.mac, sizeof(c->vm.mac), v);
}

#define STR_SETTER(fn, field) \
	static int fn(struct us_config *c, const char *v) { return set_str(field, sizeof(field), v); }
STR_SETTER(set_qemu, c->vm.qemu)
STR_SETTER(set_kernel, c->vm.kernel)
STR_SETTER(set_initrd, c->vm.initrd)
STR_SETTER(set_append, c->vm.append)
STR_SETTER(set_disk, c->vm.disk)
STR_SETTER(set_run_dir, c->vm.run_dir)
STR_SETTER(set_shm_dir, c->vm.shm_dir)
static int set_peer(struct us_config *c, const char *v)
{
	c->peer_set = 1;
	return set_str(c->peer, sizeof(c->peer), v);
}

static int set_listen(struct us_config *c, const char *v)
{
	c->listen_set = 1;
	return set_str(c->listen, sizeof(c->listen), v);
}

STR_SETTER(set_bridge, c->bridge)
STR_SETTER(set_tap, c->tap)
STR_SETTER(set_fence_command, c->fence_command)
STR_SETTER(set_key_file, c->key_file)
STR_SETTER(set_tls_dir, c->tls_dir)

static int set_tls(struct us_config *c, const char *v)
{
	return us_tls_mode_parse(v, &c->tls);
}

static int set_outq_bytes(struct us_config *c, const char *v)
{
	return us_config_parse_size(v, &c->outq_max_bytes) < 0 || c->outq_max_bytes < 65536
	       ? -EINVAL : 0;
}

static int set_outq_frames(struct us_config *c, const char *v)
{
	return parse_uint(v, 16, 10000000, &c->outq_max_frames);
}

static int set_grace(struct us_config *c, const char *v)
{
	return parse_uint(v, 0, 600000, &c->degraded_grace_ms);
}

static int set_transport(struct us_config *c, const char *v)
{
	return us_transport_kind_parse(v, &c->transport);
}

static int set_epoch_ms(struct us_config *c, const char *v)
{
	if (strcmp(v, "auto") == 0) {
		c->epoch_ms = 0;
		return 0;
	}
	return parse_uint(v, 5, 10000, &c->epoch_ms);
}

static int set_pause_share(struct us_config *c, const char *v)
{
	char num[16];
	size_t n = strlen(v);

	if (n && v[n - 1] == '%')
		n--;
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, n);
	num[n] = 0;
	return parse_uint(num, 1, 50, &c->pause_share_pct);
}

static int set_epoch_ms_min(struct us_config *c, const char *v)
{
	return parse_uint(v, 5, 10000, &c->epoch_ms_min);
}

static int set_epoch_ms_max(struct us_config *c, const char *v)
{
	return parse_uint(v, 5, 10000, &c->epoch_ms_max);
}

static int set_peer_timeout(struct us_config *c, const char *v)
{
	return parse_uint(v, 100, 600000, &c->peer_timeout_ms);
}

static int set_connect_timeout(struct us_config *c, const char *v)
{
	return parse_uint(v, 0, 86400000, &c->connect_timeout_ms);
}

static int set_staging_max(struct us_config *c, const char *v)
{
	if (strcmp(v, "auto") == 0) {
		c->staging_max = 0;
		return 0;
	}
	return us_config_parse_size(v, &c->staging_max) < 0 || c->staging_max < (1u << 20)
	       ? -EINVAL : 0;
}

static int set_disk_log_max(struct us_config *c, const char *v)
{
	return us_config_parse_size(v, &c->disk_log_max) < 0 || c->disk_log_max < (4u << 20)
	       ? -EINVAL : 0;
}

static int set_disk_staging_max(struct us_config *c, const char *v)
{
	return us_config_parse_size(v, &c->disk_staging_max) < 0 ||
	       c->disk_staging_max < (4u << 20) ? -EINVAL : 0;
}

static int set_devstate_max(struct us_config *c, const char *v)
{
	return us_config_parse_size(v, &c->devstate_max) < 0 || c->devstate_max < (1u << 20)
	       ? -EINVAL : 0;
}

static int set_devstate(struct us_config *c, const char *v)
{
	if (strcmp(v, "migrate") && strcmp(v, "xen-save"))
		return -EINVAL;
	c->devstate_xen = strcmp(v, "xen-save") == 0;
	return 0;
}

static int set_reprotect(struct us_config *c, const char *v)
{
	if (strcmp(v, "auto") && strcmp(v, "manual"))
		return -EINVAL;
	c->reprotect_auto = strcmp(v, "auto") == 0;
	return 0;
}

static int set_promote(struct us_config *c, const char *v)
{
	c->promote_pacemaker = strcmp(v, "pacemaker") == 0;
	if (strcmp(v, "auto") == 0)
		c->promote_auto = 1;
	else if (strcmp(v, "manual") == 0 || c->promote_pacemaker)
		c->promote_auto = 0;
	else
		return -EINVAL;
	return 0;
}

static int set_decide(struct us_config *c, const char *v)
{
	if (strcmp(v, "silence") == 0)
		c->decide_silence = 1;
	else if (strcmp(v, "membership") == 0)
		c->decide_silence = 0;
	else
		return -EINVAL;
	return 0;
}

static int set_bool(int *dst, const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*dst = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*dst = 0;
	else
		return -EINVAL;
	return 0;
}

static int set_membership(struct us_config *c, const char *v)
{
	if (strcmp(v, "corosync") && strcmp(v, "none"))
		return -EINVAL;
	c->membership = strcmp(v, "corosync") == 0;
	return 0;
}

static int set_node(struct us_config *c, const char *v)
{
	return strchr(v, ' ') || !*v ? -EINVAL : set_str(c->node, sizeof(c->node), v);
}

static int set_fence_timeout(struct us_config *c, const char *v)
{
	return parse_uint(v, 100, 600000, &c->fence_timeout_ms);
}

static int set_fence_delay(struct us_config *c, const char *v)
{
	return parse_uint(v, 0, 600000, &c->fence_delay_ms);
}

static int set_silence(struct us_config *c, const char *v)
{
	return parse_uint(v, 10, 600000, &c->silence_ms);
}

static int set_nodes(struct us_config *c, const char *v)
{
	return parse_uint(v, 2, 32, &c->nodes);
}

static int set_hugepages(struct us_config *c, const char *v)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
		c->vm.hugepages = strcmp(v, "on") == 0;
		return 0;
	}
	return set_bool(&c->vm.hugepages, v);
}

static int set_skip_unchanged(struct us_config *c, const char *v)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
		c->skip_unchanged = strcmp(v, "on") == 0;
		return 0;
	}
	return set_bool(&c->skip_unchanged, v);
}

static int set_compress(struct us_config *c, const char *v)
{
	if (strcmp(v, "off") != 0 && strcmp(v, "lz4") != 0)
		return -EINVAL;
	c->compress_lz4 = strcmp(v, "lz4") == 0;
	return 0;
}

static int set_scan_threads(struct us_config *c, const char *v)
{
	if (strcmp(v, "auto") == 0) {
		c->vm.scan_threads = 0;
		return 0;
	}
	return parse_uint(v, 1, US_DIRTY_THREADS_MAX, &c->vm.scan_threads);
}

static int set_allow_unfenced(struct us_config *c, const char *v)
{
	return set_bool(&c->allow_unfenced, v);
}

static int set_log_level(struct us_config *c, const char *v)
{
	static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
	static const int levels[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i]) == 0) {
			c->log_level = levels[i];
			return 0;
		}
	}
	return -EINVAL;
}

static const struct key keys[] = {
	{ "vm", "name", set_name, "letters, digits, '-' and '_'" },
	{ "vm", "memory", set_memory, "a size of at least 16M in whole 2M, e.g. 256M or 1G" },
	{ "vm", "vcpus", set_vcpus, "1 to 64" },
	{ "vm", "qemu", set_qemu, "the QEMU binary, e.g. qemu-system-x86_64" },
	{ "vm", "accel", set_accel, "tcg, kvm or auto" },
	{ "vm", "kernel", set_kernel, "a path" },
	{ "vm", "initrd", set_initrd, "a path" },
	{ "vm", "append", set_append, "a kernel command line" },
	{ "vm", "disk", set_disk, "a path to a raw disk image" },
	{ "vm", "mac", set_mac, "a MAC address like 52:54:00:12:34:56" },
	{ "vm", "hugepages", set_hugepages,
	  "on (guest RAM on 2 MiB huge pages: [daemon] shm_dir on hugetlbfs) or off" },
	{ "vm", "scan_threads", set_scan_threads, "auto or 1 to 16" },
	{ "net", "bridge", set_bridge, "a bridge name (at most 15 characters)" },
	{ "net", "tap", set_tap, "a tap name (at most 15 characters)" },
	{ "net", "outq_max_bytes", set_outq_bytes, "a size of at least 64K" },
	{ "net", "outq_max_frames", set_outq_frames, "16 to 10000000" },
	{ "net", "degraded_grace_ms", set_grace, "0 to 600000" },
	{ "replication", "transport", set_transport, "tcp, rdma or auto" },
	{ "replication", "peer", set_peer, "the standby's host:port" },
	{ "replication", "key_file", set_key_file,
	  "the path of a key from `understudy keygen` (the same file on both hosts)" },
	{ "replication", "tls", set_tls, "auto, off, psk or x509" },
	{ "replication", "tls_dir", set_tls_dir, "a directory of ca-cert.pem, server-cert.pem, "
	  "server-key.pem, client-cert.pem and client-key.pem" },
	{ "replication", "listen", set_listen, "host:port" },
	{ "replication", "hosts", us_config_set_hosts,
	  "two NODE=HOST:PORT, e.g. hA=10.0.0.1:7300 hB=10.0.0.2:7300" },
	{ "replication", "epoch_ms", set_epoch_ms, "auto, or 5 to 10000" },
	{ "replication", "pause_share", set_pause_share, "a percentage from 1 to 50, e.g. 10%" },
	{ "replication", "epoch_ms_min", set_epoch_ms_min, "5 to 10000" },
	{ "replication", "epoch_ms_max", set_epoch_ms_max, "5 to 10000" },
	{ "replication", "peer_timeout_ms", set_peer_timeout, "100 to 600000" },
	{ "replication", "connect_timeout_ms", set_connect_timeout, "0 (wait forever) to 86400000" },
	{ "replication", "staging_max", set_staging_max, "auto or a size of at least 1M" },
	{ "replication", "devstate_max", set_devstate_max, "a size of at least 1M" },
	{ "replication", "disk_log_max", set_disk_log_max, "a size of at least 4M" },
	{ "replication", "disk_staging_max", set_disk_staging_max, "a size of at least 4M" },
	{ "replication", "devstate", set_devstate, "migrate or xen-save" },
	{ "replication", "skip_unchanged", set_skip_unchanged, "on or off" },
	{ "replication", "compress", set_compress, "off or lz4" },
	{ "failover", "promote", set_promote, "auto, manual or pacemaker" },
	{ "failover", "reprotect", set_reprotect, "auto or manual" },
	{ "failover", "decide", set_decide, "membership or silence" },
	{ "heartbeat", "membership", set_membership, "corosync or none" },
	{ "heartbeat", "node", set_node, "this host's node name, as in corosync.conf" },
	{ "heartbeat", "fence_command", set_fence_command, "a program and its arguments" },
	{ "heartbeat", "fence_timeout_ms", set_fence_timeout, "100 to 600000" },
	{ "heartbeat", "fence_delay_ms", set_fence_delay, "0 to 600000" },
	{ "heartbeat", "silence_ms", set_silence, "10 to 600000" },
	{ "heartbeat", "nodes", set_nodes, "2 to 32" },
	{ "heartbeat", "allow_unfenced", set_allow_unfenced, "yes or no" },
	{ "daemon", "run_dir", set_run_dir, "a directory" },
	{ "daemon", "shm_dir", set_shm_dir, "a directory on tmpfs" },
	{ "daemon", "log_level", set_log_level, "error, warning, notice, info or debug" },
};

void us_config_defaults(struct us_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->vm.name, sizeof(c->vm.name), "vm0");
	c->vm.mem_bytes = 256u << 20;
	c->vm.vcpus = 1;
	snprintf(c->vm.qemu, sizeof(c->vm.qemu), "qemu-system-x86_64");
	snprintf(c->vm.accel, sizeof(c->vm.accel), "auto");
	snprintf(c->vm.append, sizeof(c->vm.append), "console=ttyS0");
	snprintf(c->vm.run_dir, sizeof(c->vm.run_dir), "/run/understudy");
	snprintf(c->vm.shm_dir, sizeof(c->vm.shm_dir), "/dev/shm");
	snprintf(c->listen, sizeof(c->listen), "0.0.0.0:7300");
	c->transport = US_TRANSPORT_TCP;
	c->tls = US_TLS_AUTO;
	snprintf(c->tls_dir, sizeof(c->tls_dir), "%s", US_TLS_DIR_DEFAULT);
	c->epoch_ms = 50;
	c->pause_share_pct = 10;
	c->epoch_ms_min = 10;
	c->epoch_ms_max = 500;
	c->peer_timeout_ms = 3000;
	c->connect_timeout_ms = 60000;
	c->devstate_max = 64u << 20;
	c->devstate_xen = 1;
	c->skip_unchanged = 1;
	c->disk_log_max = 64u << 20;
	c->disk_staging_max = 256u << 20;
	c->promote_auto = 1;
	c->reprotect_auto = 1;
	c->log_level = LOG_INFO;
	c->outq_max_bytes = 16u << 20;
	c->outq_max_frames = 16384;
	c->degraded_grace_ms = 2000;
	c->membership = 1;
	if (gethostname(c->node, sizeof(c->node)) < 0 || !memchr(c->node, 0, sizeof(c->node)))
		c->node[0] = 0;
	c->fence_timeout_ms = 30000;
	c->fence_delay_ms = 3000;
	c->silence_ms = US_SILENCE_MS_DEFAULT;
	c->nodes = 2;
}

/*
 * Optimal string alignment distance: the edits (insert, delete, replace, swap
 * of two neighbours) that turn @a into @b. Keys are short; a name longer than
 * KEY_MAX is far from every key.
 */
#define KEY_MAX 32

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

static unsigned key_distance(const char *a, const char *b)
{
	unsigned d[KEY_MAX + 1][KEY_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > KEY_MAX || lb > KEY_MAX)
		return UINT_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
				       d[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

/* About a third of the key may be wrong: one typo in 'memroy', two in
 * 'cpu' for 'vcpus', 'epoch' for 'epoch_ms'; but 'ram' is not 'mac'. */
static int close_enough(unsigned dist, size_t len)
{
	return 3 * dist <= len + 1;
}

/*
 * The known key nearest to @name, or NULL when none is close. A key of
 * @section wins a tie with a key of another section (scores 2d and 2d + 1),
 * so '[vm] memroy' names 'memory' and '[failover] nodes' names '[heartbeat] nodes'.
 */
static const struct key *nearest_key(const char *section, const char *name)
{
	const struct key *best = NULL;
	unsigned score, best_score = UINT_MAX, dist;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		dist = key_distance(name, keys[i].name);
		if (dist == UINT_MAX || !close_enough(dist, strlen(keys[i].name)))
			continue;
		score = 2 * dist + (strcmp(keys[i].section, section) != 0);
		if (score < best_score) {
			best = &keys[i];
			best_score = score;
		}
	}
	return best;
}

static void report_unknown(const struct load_ctx *ctx, const char *section, const char *name)
{
	const struct key *k = nearest_key(section, name);

	if (!k)
		us_log(LOG_ERR, US_TAG_MAIN, "%s: unknown key '%s' in section [%s]",
		       ctx->path, name, section);
	else if (strcmp(k->section, section) == 0)
		us_log(LOG_ERR, US_TAG_MAIN, "%s: unknown key '%s' in section [%s]: did you "
		       "mean '%s'?", ctx->path, name, section, k->name);
	else
		us_log(LOG_ERR, US_TAG_MAIN, "%s: unknown key '%s' in section [%s]: did you "
		       "mean '[%s] %s'?", ctx->path, name, section, k->section, k->name);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
			continue;
		if (keys[i].set(ctx->c, value) == 0)
			return 1;
		us_log(LOG_ERR, US_TAG_MAIN, "%s: [%s] %s = '%s' is not valid: expected %s",
		       ctx->path, section, name, value, keys[i].expect);
		ctx->errors++;
		return 1;
	}
	report_unknown(ctx, section, name);
	ctx->errors++;
	return 1;
}

/* inih reads lines of at most INI_MAX_LINE - 1 bytes and would cut a longer
 * one silently (or call it a syntax error on a line that is not there). */
static int check_line_lengths(const char *path)
{
	char buf[INI_MAX_LINE + 1];
	int line = 0, bad = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;	/* ini_parse reports it */
	while (fgets(buf, sizeof(buf), f)) {
		size_t n = strlen(buf);

		line++;
		if (n < INI_MAX_LINE || buf[n - 1] == '\n')
			continue;
		us_log(LOG_ERR, US_TAG_MAIN, "%s:%d: line longer than %d characters, which the INI "
		       "parser cannot read: shorten it (for a long command, point to a script)",
		       path, line, INI_MAX_LINE - 1);
		bad = 1;
		while (n && buf[n - 1] != '\n' && fgets(buf, sizeof(buf), f))
			n = strlen(buf);
	}
	fclose(f);
	return bad ? -EINVAL : 0;
}

/*
 * tls = auto: psk when there is a key_file and the transport is tcp (what
 * the key can do best there), else off. psk and x509 need TCP: RDMA has no
 * TLS (its channel is authenticated by key_file, not encrypted).
 */
static int resolve_tls(struct us_config *c, const char *path)
{
	if (c->tls == US_TLS_AUTO) {
		c->tls = c->key_file[0] && c->transport == US_TRANSPORT_TCP ? US_TLS_PSK : US_TLS_OFF;
		return 0;
	}
	if (c->tls != US_TLS_OFF && c->transport != US_TRANSPORT_TCP) {
		us_log(LOG_ERR, US_TAG_MAIN, "%s: [replication] tls = %s needs transport = tcp: "
		       "RDMA carries no TLS (set key_file for an authenticated channel there, "
		       "and tls = auto or off)", path, us_tls_mode_name(c->tls));
		return -EINVAL;
	}
	if (c->tls == US_TLS_PSK && !c->key_file[0]) {
		us_log(LOG_ERR, US_TAG_MAIN, "%s: [replication] tls = psk takes its key from "
		       "key_file: set key_file (make one with `understudy keygen FILE`)", path);
		return -EINVAL;
	}
	return 0;
}

int us_config_load(struct us_config *c, const char *path)
{
	struct load_ctx ctx = { .c = c, .path = path };
	int rc = check_line_lengths(path);

	if (rc < 0)
		return rc;
	rc = ini_parse(path, on_key, &ctx);

	if (rc == -1) {
		us_log(LOG_ERR, US_TAG_MAIN, "cannot open config file %s: %s", path, strerror(errno));
		return -ENOENT;
	}
	if (rc > 0) {
		us_log(LOG_ERR, US_TAG_MAIN, "%s:%d: syntax error (expected [section] or key = value)",
		       path, rc);
		return -EINVAL;
	}
	if (rc < 0 || ctx.errors)
		return -EINVAL;
	if (c->promote_pacemaker)
		c->membership = 0; /* Pacemaker's membership decides, not the daemon's */
	rc = resolve_tls(c, path);
	return rc < 0 ? rc : us_config_resolve_hosts(c, path);
}

/* decide = silence: the standby fences on its own evidence, so it needs the
 * fence command, the daemon's membership (a clean stop must not count) and
 * the right to promote by itself. */
static int check_decide(const struct us_config *c)
{
	const char *missing = !c->decide_silence	? NULL
			      : c->promote_pacemaker	? "promote = pacemaker (Pacemaker decides)"
			      : !c->membership		? "[heartbeat] membership = none"
			      : !c->fence_command[0]	? "no [heartbeat] fence_command"
							: NULL;

	if (!missing)
		return 0;
	us_log(LOG_ERR, US_TAG_MAIN, "[failover] decide = silence cannot work with %s: the "
	       "standby fences the primary's node on a silent stream and promotes only once the "
	       "fence confirms it is off; set membership = corosync, a fence_command and promote "
	       "= auto or manual, or use decide = membership", missing);
	return -EINVAL;
}

int us_config_check(const struct us_config *c, const char *role)
{
	if (strcmp(role, "primary") == 0 && !c->peer[0]) {
		us_log(LOG_ERR, US_TAG_MAIN, "no standby to replicate to: set [replication] peer = "
		       "HOST:PORT or pass --peer");
		return -EINVAL;
	}
	if (!c->vm.kernel[0] && !c->vm.disk[0]) {
		us_log(LOG_ERR, US_TAG_MAIN, "nothing to boot: set [vm] kernel (and initrd) or disk");
		return -EINVAL;
	}
	if (c->membership && !c->node[0]) {
		us_log(LOG_ERR, US_TAG_MAIN, "no node name for the cluster: set [heartbeat] node "
		       "to this host's name in corosync.conf");
		return -EINVAL;
	}
	if (c->membership && c->nodes == 2 && !c->fence_command[0] && c->promote_auto &&
	    strcmp(role, "standby") == 0)
		us_log(c->allow_unfenced ? LOG_WARNING : LOG_NOTICE, US_TAG_MAIN, "two-node "
		       "cluster without [heartbeat] fence_command: automatic promotion is %s",
		       c->allow_unfenced ? "ALLOWED UNFENCED (split brain on a cut link)"
		       : "refused; promote with `understudy promote`");
	if (c->promote_pacemaker && c->fence_command[0]) {
		us_log(LOG_ERR, US_TAG_MAIN, "[failover] promote = pacemaker: Pacemaker fences, "
		       "not the daemon; remove [heartbeat] fence_command and register the fence "
		       "agent as a stonith device");
		return -EINVAL;
	}
	if (c->epoch_ms_min > c->epoch_ms_max) {
		us_log(LOG_ERR, US_TAG_MAIN, "[replication] epoch_ms_min (%u) is above "
		       "epoch_ms_max (%u): set the smaller value as the minimum",
		       c->epoch_ms_min, c->epoch_ms_max);
		return -EINVAL;
	}
	if (check_decide(c) < 0)
		return -EINVAL;
	if (c->staging_max && c->staging_max < c->vm.mem_bytes / 64) {
		us_log(LOG_WARNING, US_TAG_MAIN, "staging_max %lu is small for %lu bytes of RAM: "
		       "epochs dirtying more are refused", (unsigned long)c->staging_max,
		       (unsigned long)c->vm.mem_bytes);
	}
	return 0;
}
