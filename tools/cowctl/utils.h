/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: memory, string list and path helpers.
 */
#ifndef COWCTL_UTILS_H
#define COWCTL_UTILS_H

#include <stdbool.h>
#include <stddef.h>

/* Allocation that prints "cowctl: out of memory" and exits on failure. */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A growable array of owned strings. */
struct strvec {
	char **v;
	size_t n;
	size_t alloc;
};

#define STRVEC_INIT { NULL, 0, 0 }

void strvec_push(struct strvec *sv, const char *s);	/* copies s */
void strvec_push_owned(struct strvec *sv, char *s);	/* takes s */
void strvec_free(struct strvec *sv);

/*
 * Split @s at every @sep not escaped by a backslash, appending the pieces
 * to @out.  A backslash makes the next character literal and is dropped
 * ("\<sep>" is <sep>, "\\" one backslash, "\a" is "a"), as the kernel's
 * lowerdir= parser does; a backslash at the very end is kept.  Returns the
 * number of pieces that were empty (the caller decides whether that is an
 * error).
 */
size_t split_escaped(const char *s, char sep, struct strvec *out);

/*
 * Append @s to @buf, putting a backslash before every @sep and backslash,
 * so split_escaped() gives it back.  @buf is a growable string.
 */
struct strbuf {
	char *s;
	size_t len;
	size_t alloc;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_add(struct strbuf *sb, const char *s, size_t n);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_add_escaped(struct strbuf *sb, const char *s, char sep);
const char *strbuf_str(struct strbuf *sb);	/* "" when empty */
void strbuf_free(struct strbuf *sb);

/*
 * Decode the octal escapes (\040, \011, \012, \134...) that the kernel puts
 * in /proc/self/mountinfo fields.  Returns a new string.
 */
char *unescape_octal(const char *s, size_t n);

/*
 * Check a path given on the command line: non-empty, absolute, shorter than
 * PATH_MAX.  @what names it in the message ("layer", "upper directory").
 * When it is not, prints a usage error (the caller exits EXIT_USAGE) and
 * returns false.
 */
bool check_abs_path(const char *what, const char *path);

/* @s for a message, cut to about 500 bytes and "..." when longer. */
const char *msg_path(const char *s);

#endif /* COWCTL_UTILS_H */
