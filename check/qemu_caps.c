/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU checks: the configured binary runs, is 7.2 or later, and has what
 * understudy drives: memory-backend-file with share=on (guest RAM the engine
 * maps), -netdev stream (the output-commit relay), the x-ignore-shared
 * migration capability (device state without RAM) and, for devstate =
 * xen-save, that command. One QMP session on a machine-less QEMU answers
 * all but -netdev, which `-netdev help` lists.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "check/check_int.h"

#define QEMU_OUT_MAX (512 * 1024)

/* The answers, in the order asked: capabilities, types, properties, commands. */
static const char qmp_script[] = "{\"execute\":\"qmp_capabilities\"}\n"
				 "{\"execute\":\"query-migrate-capabilities\"}\n"
				 "{\"execute\":\"qom-list-types\",\"arguments\":{\"implements\":"
				 "\"memory-backend\"}}\n"
				 "{\"execute\":\"qom-list-properties\",\"arguments\":{\"typename\":"
				 "\"memory-backend-file\"}}\n{\"execute\":\"query-commands\"}\n"
				 "{\"execute\":\"quit\"}\n";

enum { R_CAPS = 1, R_TYPES, R_PROPS, R_CMDS, R_MAX };

struct qemu_caps {
	int major, minor, micro;
	int backend_file, share, stream, ignore_shared, xen_save;
};

int us_check_qemu_version(const char *text, int *major, int *minor, int *micro)
{
	const char *p = strstr(text, "QEMU emulator version ");
	json_t *g;

	if (p && sscanf(p + 22, "%d.%d.%d", major, minor, micro) == 3)
		return 0;
	g = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
	if (!g)
		return -EINVAL;
	p = NULL;
	if (json_unpack(g, "{s:{s:{s:{s:i, s:i, s:i}}}}", "QMP", "version", "qemu", "major", major,
			"minor", minor, "micro", micro) == 0)
		p = text;
	json_decref(g);
	return p ? 0 : -EINVAL;
}

/* @return 1 if @list (array of objects) has one whose @key is @value. */
static int has_named(json_t *list, const char *key, const char *value)
{
	json_t *it;
	size_t i;

	json_array_foreach (list, i, it)
		if (json_is_string(json_object_get(it, key)) &&
		    strcmp(json_string_value(json_object_get(it, key)), value) == 0)
			return 1;
	return 0;
}

static void take_return(struct qemu_caps *c, int idx, json_t *ret)
{
	if (idx == R_CAPS)
		c->ignore_shared = has_named(ret, "capability", "x-ignore-shared");
	else if (idx == R_TYPES)
		c->backend_file = has_named(ret, "name", "memory-backend-file");
	else if (idx == R_PROPS)
		c->share = has_named(ret, "name", "share");
	else if (idx == R_CMDS)
		c->xen_save = has_named(ret, "name", "xen-save-devices-state");
}

/* QMP's output: the greeting, then a line per answer (events skipped). */
static int parse_qmp(char *out, struct qemu_caps *c)
{
	char *line, *save = NULL;
	int idx = 0, greeted = 0;
	json_t *j;

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
		if (!j)
			continue;
		if (!greeted && json_object_get(j, "QMP"))
			greeted = us_check_qemu_version(line, &c->major, &c->minor, &c->micro) == 0;
		else if (json_object_get(j, "return") || json_object_get(j, "error"))
			take_return(c, idx++, json_object_get(j, "return"));
		json_decref(j);
	}
	return greeted ? 0 : -EPROTO;
}

static int ask_qemu(const char *bin, const struct us_check_sys *sys, char *out, struct qemu_caps *c)
{
	char *const qmp[] = {
		(char *)bin,	   "-machine", "none", "-nodefaults", "-display", "none",
		"-no-user-config", "-accel",   "tcg",  "-qmp",	      "stdio",	  NULL
	};
	char *const netdev[] = { (char *)bin, "-netdev", "help", NULL };
	int rc = sys->run(qmp, qmp_script, out, QEMU_OUT_MAX);

	if (rc < 0)
		return rc;
	rc = parse_qmp(out, c);
	if (rc < 0)
		return rc;
	if (sys->run(netdev, NULL, out, QEMU_OUT_MAX) == 0)
		c->stream = strstr(out, "\nstream\n") != NULL;
	return 0;
}

static void add_missing(char *buf, size_t len, int have, const char *what)
{
	size_t n = strlen(buf);

	if (!have)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", what);
}

static void check_features(const struct us_config *cfg, const struct qemu_caps *c,
			   struct us_check_report *r)
{
	char miss[256] = "";

	add_missing(miss, sizeof(miss), c->backend_file, "memory-backend-file");
	add_missing(miss, sizeof(miss), c->share, "memory-backend-file's share=on");
	add_missing(miss, sizeof(miss), c->ignore_shared, "migration capability x-ignore-shared");
	if (cfg->vm.mac[0])
		add_missing(miss, sizeof(miss), c->stream, "-netdev stream");
	if (cfg->devstate_xen)
		add_missing(miss, sizeof(miss), c->xen_save, "xen-save-devices-state");
	if (miss[0])
		us_check_add(r, "qemu.features", US_CHECK_FAIL,
			     "install Debian's qemu-system-x86 "
			     "(7.2 or later), or set [replication] devstate = migrate if only "
			     "xen-save-devices-state is missing",
			     "%s lacks %s", cfg->vm.qemu, miss);
	else
		us_check_add(r, "qemu.features", US_CHECK_PASS, NULL,
			     "shared file RAM, x-ignore-shared%s%s",
			     cfg->vm.mac[0] ? ", -netdev stream" : "",
			     cfg->devstate_xen ? ", xen-save-devices-state" : "");
}

static void check_version(const struct us_config *cfg, const struct qemu_caps *c,
			  struct us_check_report *r)
{
	if (c->major > US_CHECK_QEMU_MIN_MAJOR ||
	    (c->major == US_CHECK_QEMU_MIN_MAJOR && c->minor >= US_CHECK_QEMU_MIN_MINOR))
		us_check_add(r, "qemu.version", US_CHECK_PASS, NULL, "%s is QEMU %d.%d.%d",
			     cfg->vm.qemu, c->major, c->minor, c->micro);
	else
		us_check_add(r, "qemu.version", US_CHECK_FAIL,
			     "install QEMU 7.2 or later (Debian 12's qemu-system-x86)",
			     "%s is QEMU %d.%d.%d, older than 7.2", cfg->vm.qemu, c->major,
			     c->minor, c->micro);
}

void us_check_qemu(const struct us_config *cfg, const struct us_check_sys *sys,
		   struct us_check_report *r)
{
	static char out[QEMU_OUT_MAX];
	struct qemu_caps c = { 0 };
	int rc = ask_qemu(cfg->vm.qemu, sys, out, &c);

	if (rc == -ENOENT) {
		us_check_add(r, "qemu.version", US_CHECK_FAIL,
			     "apt-get install qemu-system-x86, "
			     "or set [vm] qemu to the binary's path",
			     "QEMU binary %s not found", cfg->vm.qemu);
		return;
	}
	if (rc < 0) {
		us_check_add(r, "qemu.version", US_CHECK_FAIL,
			     "run it by hand with -qmp stdio to see why",
			     "%s did not answer QMP: %s", cfg->vm.qemu, strerror(-rc));
		return;
	}
	check_version(cfg, &c, r);
	check_features(cfg, &c, r);
}
