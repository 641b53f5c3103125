// SPDX-License-Identifier: GPL-2.0
/*
 * One output path for text and JSON; see json_print.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_print.h"

#define JSON_MAX_DEPTH 32

static struct {
	bool json;
	bool pretty;
	int depth;			/* open containers */
	bool has_items[JSON_MAX_DEPTH];	/* container has an element yet */
	bool is_array[JSON_MAX_DEPTH];
} js;

void json_init(bool json, bool pretty)
{
	memset(&js, 0, sizeof(js));
	js.json = json;
	js.pretty = pretty;
}

bool is_json_context(void)
{
	return js.json;
}

static bool want(enum output_type type)
{
	return js.json ? (type & PRINT_JSON) : (type & PRINT_FP);
}

static void indent(void)
{
	if (!js.pretty)
		return;
	putchar('\n');
	for (int i = 0; i < js.depth; i++)
		fputs("  ", stdout);
}

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void json_write_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	putchar('"');
	while (n) {
		size_t len;

		switch (*s) {
		case '"':  fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\b': fputs("\\b", stdout); break;
		case '\f': fputs("\\f", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				printf("\\u%04x", *s);
				break;
			}
			len = utf8_seq_len(s, n);
			if (!len) {
				fputs("\\ufffd", stdout);
				break;
			}
			fwrite(s, 1, len, stdout);
			s += len;
			n -= len;
			continue;
		}
		s++;
		n--;
	}
	putchar('"');
}

/*
 * A copy of @s with control characters as octal escapes (\012), as in
 * /proc/self/mountinfo, so a name cannot break a line of text output; NULL
 * when @s has none.
 */
static char *text_safe(const char *s)
{
	const unsigned char *p;
	size_t n = 0;
	char *out, *o;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			n++;
	if (!n)
		return NULL;
	out = malloc(strlen(s) + 3 * n + 1);
	if (!out)
		return NULL;	/* print it as it is rather than not at all */
	for (p = (const unsigned char *)s, o = out; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\%03o", *p);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Start a JSON value: separator, indentation and "key": as needed. */
static void json_begin_value(const char *key)
{
	if (js.depth > 0) {
		if (js.has_items[js.depth - 1])
			putchar(',');
		js.has_items[js.depth - 1] = true;
		indent();
		if (!js.is_array[js.depth - 1]) {
			json_write_string(key ? key : "");
			fputs(js.pretty ? ": " : ":", stdout);
		}
	}
}

static void json_open(const char *key, bool array)
{
	json_begin_value(key);
	if (js.depth >= JSON_MAX_DEPTH)
		abort();	/* a bug in a command, not in its input */
	putchar(array ? '[' : '{');
	js.has_items[js.depth] = false;
	js.is_array[js.depth] = array;
	js.depth++;
}

static void json_close(bool array)
{
	if (js.depth <= 0 || js.is_array[js.depth - 1] != array)
		abort();
	js.depth--;
	if (js.has_items[js.depth])
		indent();
	putchar(array ? ']' : '}');
	if (js.depth == 0)
		putchar('\n');
}

void open_json_object(const char *key)
{
	if (js.json)
		json_open(key, false);
}

void close_json_object(void)
{
	if (js.json)
		json_close(false);
}

void open_json_array(enum output_type type, const char *key)
{
	if (js.json) {
		if (type & PRINT_JSON)
			json_open(key, true);
	} else if (type & PRINT_FP && key) {
		printf("%s ", key);
	}
}

void close_json_array(enum output_type type, const char *text_delim)
{
	if (js.json) {
		if (type & PRINT_JSON)
			json_close(true);
	} else if (type & PRINT_FP && text_delim) {
		fputs(text_delim, stdout);
	}
}

void print_string(enum output_type type, const char *key, const char *fmt,
		  const char *value)
{
	if (!want(type))
		return;
	if (js.json) {
		json_begin_value(key);
		if (value)
			json_write_string(value);
		else
			fputs("null", stdout);
	} else if (fmt) {
		char *safe = value ? text_safe(value) : NULL;

		printf(fmt, safe ? safe : value ? value : "-");
		free(safe);
	}
}

void print_int(enum output_type type, const char *key, const char *fmt,
	       int value)
{
	if (!want(type))
		return;
	if (js.json) {
		json_begin_value(key);
		printf("%d", value);
	} else if (fmt) {
		printf(fmt, value);
	}
}

void print_uint(enum output_type type, const char *key, const char *fmt,
		unsigned int value)
{
	if (!want(type))
		return;
	if (js.json) {
		json_begin_value(key);
		printf("%u", value);
	} else if (fmt) {
		printf(fmt, value);
	}
}

void print_u64(enum output_type type, const char *key, const char *fmt,
	       uint64_t value)
{
	if (!want(type))
		return;
	if (js.json) {
		json_begin_value(key);
		printf("%" PRIu64, value);
	} else if (fmt) {
		printf(fmt, value);
	}
}

void print_bool(enum output_type type, const char *key, const char *fmt,
		bool value)
{
	if (!want(type))
		return;
	if (js.json) {
		json_begin_value(key);
		fputs(value ? "true" : "false", stdout);
	} else if (fmt) {
		printf(fmt, value ? "yes" : "no");
	}
}

void print_null(enum output_type type, const char *key, const char *fmt,
		const char *text)
{
	if (!want(type))
		return;
	if (js.json) {
		json_begin_value(key);
		fputs("null", stdout);
	} else if (fmt) {
		printf(fmt, text ? text : "");
	}
}

void print_nl(void)
{
	if (!js.json)
		putchar('\n');
}
