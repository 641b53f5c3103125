// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: memory, string list and path helpers.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowctl.h"
#include "utils.h"

static void __attribute__((noreturn)) oom(void)
{
	fputs("cowctl: out of memory\n", stderr);
	exit(EXIT_FAIL);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		oom();
	p = realloc(ptr, nmemb && size ? nmemb * size : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

void strvec_push_owned(struct strvec *sv, char *s)
{
	if (sv->n == sv->alloc) {
		sv->alloc = sv->alloc ? sv->alloc * 2 : 8;
		sv->v = xrealloc(sv->v, sv->alloc, sizeof(*sv->v));
	}
	sv->v[sv->n++] = s;
}

void strvec_push(struct strvec *sv, const char *s)
{
	strvec_push_owned(sv, xstrdup(s));
}

void strvec_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->alloc = 0;
}

size_t split_escaped(const char *s, char sep, struct strvec *out)
{
	size_t len = strlen(s), empty = 0;
	char *piece = xmalloc(len + 1);
	size_t n = 0;

	for (size_t i = 0;; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			piece[n++] = s[++i];
		} else if (s[i] == sep || s[i] == '\0') {
			piece[n] = '\0';
			if (!n)
				empty++;
			strvec_push(out, piece);
			n = 0;
			if (s[i] == '\0')
				break;
		} else {
			piece[n++] = s[i];
		}
	}
	free(piece);
	return empty;
}

void strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->alloc) {
		size_t want = sb->alloc ? sb->alloc : 64;

		while (want < sb->len + n + 1) {
			if (want > SIZE_MAX / 2)
				oom();
			want *= 2;
		}
		sb->s = xrealloc(sb->s, want, 1);
		sb->alloc = want;
	}
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_add_escaped(struct strbuf *sb, const char *s, char sep)
{
	for (; *s; s++) {
		if (*s == sep || *s == '\\')
			strbuf_add(sb, "\\", 1);
		strbuf_add(sb, s, 1);
	}
}

const char *strbuf_str(struct strbuf *sb)
{
	return sb->s ? sb->s : "";
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->alloc = 0;
}

static int is_odigit(char c)
{
	return c >= '0' && c <= '7';
}

char *unescape_octal(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && is_odigit(s[i + 1]) &&
		    is_odigit(s[i + 2]) && is_odigit(s[i + 3])) {
			int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
				(s[i + 3] - '0');

			if (v > 0 && v < 256) {
				out[o++] = (char)v;
				i += 3;
				continue;
			}
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

const char *msg_path(const char *s)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];
	size_t len = strlen(s);

	if (len < sizeof(buf[0]))
		return s;
	snprintf(b, sizeof(buf[0]), "%.*s...", (int)sizeof(buf[0]) - 4, s);
	return b;
}

bool check_abs_path(const char *what, const char *path)
{
	size_t len = strlen(path);
	char cwd[PATH_MAX];
	char *abs;

	if (!len) {
		usage_error("%s path is empty", what);
		return false;
	}
	if (len >= PATH_MAX) {
		usage_error("%s path '%s' is too long (%zu bytes; the limit is %d)",
			    what, msg_path(path), len, PATH_MAX - 1);
		return false;
	}
	if (path[0] == '/')
		return true;

	/* Suggest the absolute path: the resolved one when it exists. */
	abs = realpath(path, NULL);
	if (abs)
		usage_error("%s path '%s' must be absolute (did you mean '%s'?)",
			    what, path, msg_path(abs));
	else if (getcwd(cwd, sizeof(cwd)) && strlen(cwd) + 1 + len < PATH_MAX)
		usage_error("%s path '%s' must be absolute (did you mean '%s%s%s'?)",
			    what, path, cwd, strcmp(cwd, "/") ? "/" : "", path);
	else
		usage_error("%s path '%s' must be absolute", what, path);
	free(abs);
	return false;
}
