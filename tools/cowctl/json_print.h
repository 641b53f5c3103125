/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One output path for text and JSON, after iproute2's lib/json_print.c.
 *
 * A command prints each value once:
 *
 *	print_string(PRINT_ANY, "target", "%s ", m->target);
 *
 * In text mode the value goes through the printf format (PRINT_FP and
 * PRINT_ANY); in JSON mode (-j) it becomes "target": "..." in the open
 * object, or an element of the open array, where the key is ignored
 * (PRINT_JSON and PRINT_ANY).  Text-only decoration (headers, newlines) uses
 * PRINT_FP; JSON-only structure uses PRINT_JSON.
 *
 * Strings are escaped for JSON; bytes that are not valid UTF-8 become
 * U+FFFD so the output always parses.
 */
#ifndef COWCTL_JSON_PRINT_H
#define COWCTL_JSON_PRINT_H

#include <stdbool.h>
#include <stdint.h>

enum output_type {
	PRINT_FP = 1,
	PRINT_JSON = 2,
	PRINT_ANY = PRINT_FP | PRINT_JSON,
};

/* Select the mode once, before anything is printed. */
void json_init(bool json, bool pretty);
bool is_json_context(void);

/* Containers.  @key is NULL at the top level and inside arrays. */
void open_json_object(const char *key);
void close_json_object(void);
void open_json_array(enum output_type type, const char *key);
void close_json_array(enum output_type type, const char *text_delim);

/* A NULL @value is JSON null, and "-" through @fmt in text mode. */
void print_string(enum output_type type, const char *key, const char *fmt,
		  const char *value);
void print_int(enum output_type type, const char *key, const char *fmt,
	       int value);
void print_uint(enum output_type type, const char *key, const char *fmt,
		unsigned int value);
void print_u64(enum output_type type, const char *key, const char *fmt,
	       uint64_t value);
/* Text mode prints "yes" or "no" through @fmt. */
void print_bool(enum output_type type, const char *key, const char *fmt,
		bool value);
/* JSON null; text mode prints @text through @fmt. */
void print_null(enum output_type type, const char *key, const char *fmt,
		const char *text);
/* A newline in text mode. */
void print_nl(void);

#endif /* COWCTL_JSON_PRINT_H */
