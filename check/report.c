/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The check report: items added by each check, the worst level, and the two
 * ways it is shown (text lines for operators, JSON for scripts and status).
 */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include "check/check_int.h"

static const char *const level_names[] = { "PASS", "WARN", "FAIL" };

const char *us_check_level_name(enum us_check_level level)
{
	return level <= US_CHECK_FAIL ? level_names[level] : "?";
}

void us_check_add(struct us_check_report *r, const char *name, enum us_check_level level,
		  const char *fix, const char *fmt, ...)
{
	struct us_check_item *it;
	va_list ap;

	if (r->n >= US_CHECK_MAX)
		return;
	it = &r->item[r->n++];
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->level = level;
	snprintf(it->fix, sizeof(it->fix), "%s", fix && level != US_CHECK_PASS ? fix : "");
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
}

enum us_check_level us_check_worst(const struct us_check_report *r)
{
	enum us_check_level worst = US_CHECK_PASS;
	unsigned i;

	for (i = 0; i < r->n; i++)
		if (r->item[i].level > worst)
			worst = r->item[i].level;
	return worst;
}

const struct us_check_item *us_check_first(const struct us_check_report *r,
					   enum us_check_level level)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		if (r->item[i].level == level)
			return &r->item[i];
	return NULL;
}

const struct us_check_item *us_check_find(const struct us_check_report *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->item[i].name, name) == 0)
			return &r->item[i];
	return NULL;
}

void us_check_print(const struct us_check_report *r, FILE *f)
{
	unsigned i;

	for (i = 0; i < r->n; i++) {
		const struct us_check_item *it = &r->item[i];

		fprintf(f, "%s  %-22s %s\n", us_check_level_name(it->level), it->name, it->detail);
		if (it->fix[0])
			fprintf(f, "      %-22s fix: %s\n", "", it->fix);
	}
}

json_t *us_check_json(const struct us_check_report *r)
{
	json_t *list = json_array(), *item;
	unsigned i;

	for (i = 0; list && i < r->n; i++) {
		item = json_pack("{s:s, s:s, s:s, s:s}", "name", r->item[i].name, "result",
				 us_check_level_name(r->item[i].level), "detail", r->item[i].detail,
				 "fix", r->item[i].fix);
		if (item)
			json_array_append_new(list, item);
	}
	return json_pack("{s:b, s:o}", "ok", us_check_worst(r) != US_CHECK_FAIL, "checks",
			 list ? list : json_array());
}
