// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: read /proc/self/mountinfo.
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 *
 * Fields are separated by single spaces; spaces, tabs, newlines and
 * backslashes inside them are octal escapes (\040...).  Field 7 is zero or
 * more optional fields ended by "-".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountinfo.h"
#include "utils.h"

static void mnt_entry_free(struct mnt_entry *e)
{
	free(e->root);
	free(e->target);
	free(e->mnt_opts);
	free(e->fstype);
	free(e->source);
	free(e->super_opts);
}

/*
 * Split @line in place at single spaces (an empty field stays a field);
 * returns the number of fields, at most @max.
 */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		line = strchr(line, ' ');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static int parse_line(char *line, struct mnt_entry *e)
{
	char *f[64];
	size_t n = split_fields(line, f, 64), dash;
	char *end;

	/* 6 fixed fields, optional fields, "-", fstype, source[, options] */
	if (n < 6)
		return -1;
	for (dash = 6; dash < n && strcmp(f[dash], "-"); dash++)
		;
	if (dash + 2 >= n)
		return -1;

	memset(e, 0, sizeof(*e));
	e->id = (int)strtol(f[0], &end, 10);
	if (end == f[0] || *end)
		return -1;
	e->parent = (int)strtol(f[1], &end, 10);
	if (end == f[1] || *end)
		return -1;
	if (sscanf(f[2], "%u:%u", &e->major, &e->minor) != 2)
		return -1;
	e->root = unescape_octal(f[3], strlen(f[3]));
	e->target = unescape_octal(f[4], strlen(f[4]));
	e->mnt_opts = unescape_octal(f[5], strlen(f[5]));
	e->fstype = unescape_octal(f[dash + 1], strlen(f[dash + 1]));
	e->source = unescape_octal(f[dash + 2], strlen(f[dash + 2]));
	e->super_opts = dash + 3 < n ? xstrdup(f[dash + 3]) : xstrdup("");
	return 0;
}

int mnt_table_read(struct mnt_table *t, const char *path)
{
	FILE *fp = fopen(path ? path : MOUNTINFO_PATH, "re");
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	if (!fp)
		return -errno;
	errno = 0;
	while (getline(&line, &cap, fp) >= 0) {
		struct mnt_entry e;

		if (parse_line(line, &e))
			continue;
		if (t->n == t->alloc) {
			t->alloc = t->alloc ? t->alloc * 2 : 32;
			t->e = xrealloc(t->e, t->alloc, sizeof(*t->e));
		}
		t->e[t->n++] = e;
	}
	if (ferror(fp))
		err = errno ? -errno : -EIO;
	free(line);
	fclose(fp);
	return err;
}

void mnt_table_free(struct mnt_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		mnt_entry_free(&t->e[i]);
	free(t->e);
	t->e = NULL;
	t->n = t->alloc = 0;
}

const struct mnt_entry *mnt_table_find_target(const struct mnt_table *t,
					      const char *target)
{
	for (size_t i = t->n; i > 0; i--)
		if (!strcmp(t->e[i - 1].target, target))
			return &t->e[i - 1];
	return NULL;
}

int mnt_opts_has(const char *opts, const char *opt)
{
	size_t len = strlen(opt);

	for (const char *p = opts; p && *p;) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, opt, len))
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}
