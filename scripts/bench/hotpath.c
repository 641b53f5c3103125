// SPDX-License-Identifier: GPL-2.0
/*
 * The timed loops of scripts/bench/hotpath.py.
 *
 * They are in C so that the interpreter's own instructions (a Python
 * os.stat() costs more than a tmpfs lookup) do not hide the filesystem's:
 * hotpath.py compiles this file in the guest and runs it once per timed
 * pass.  Everything the loop needs (the path list, the file's pages) is
 * read or made before the clock starts.  Then it sleeps SETTLE_MS: the
 * work that the last unmount and rmtree left (RCU callbacks freeing
 * dentries and inodes, kworkers) runs then, not inside the timed loop;
 * the instruction clock counts every vCPU's instructions, so any of it
 * would land in the figure.  Under scripts/vm --icount the sleep is idle
 * time and costs no real time.
 *
 *   hotpath-helper stat   < PATHS   stat(2) each path; ok = found
 *   hotpath-helper enoent < PATHS   stat(2) each path; ok = ENOENT
 *   hotpath-helper open   < PATHS   open(2) + close(2) each path, after
 *                                   one untimed pass over the list
 *   hotpath-helper cycle  < PATHS   create + stat + unlink each path
 *   hotpath-helper readdir DIR REPS list DIR REPS times; ok = entries
 *                                   seen (without . and ..)
 *   hotpath-helper pread FILE COUNT COUNT 4 KiB pread(2)s at random
 *                                   4 KiB-aligned offsets (a fixed
 *                                   sequence), after reading FILE once
 *                                   untimed; ok = full reads
 *
 * Output, one line: "NS OK BAD" -- CLOCK_MONOTONIC nanoseconds of the
 * timed loop (guest instructions under scripts/vm --icount), the
 * operations that went as expected and those that did not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define SETTLE_MS 100

static void settle(void)
{
	struct timespec ts = { 0, SETTLE_MS * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The paths on stdin, one per line, into one array. */
static char **read_paths(size_t *n)
{
	size_t cap = 1024, len = 0, sz = 0;
	char **v = malloc(cap * sizeof(*v));
	char *line = NULL;
	ssize_t got;

	if (!v)
		die("malloc");
	while ((got = getline(&line, &sz, stdin)) > 0) {
		if (line[got - 1] == '\n')
			line[got - 1] = '\0';
		if (!line[0])
			continue;
		if (len == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				die("realloc");
		}
		v[len] = strdup(line);
		if (!v[len++])
			die("strdup");
	}
	free(line);
	*n = len;
	return v;
}

static size_t open_close(char **paths, size_t n)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			close(fd);
			ok++;
		}
	}
	return ok;
}

static int path_ops(const char *op)
{
	size_t n, ok = 0;
	char **paths = read_paths(&n);
	struct stat st;
	uint64_t t;

	if (!strcmp(op, "open"))
		open_close(paths, n);	/* untimed: the lookups cached */
	settle();
	t = now_ns();
	if (!strcmp(op, "stat")) {
		for (size_t i = 0; i < n; i++)
			ok += stat(paths[i], &st) == 0;
	} else if (!strcmp(op, "enoent")) {
		for (size_t i = 0; i < n; i++)
			ok += stat(paths[i], &st) < 0 && errno == ENOENT;
	} else if (!strcmp(op, "open")) {
		ok = open_close(paths, n);
	} else if (!strcmp(op, "cycle")) {
		for (size_t i = 0; i < n; i++) {
			int fd = open(paths[i], O_WRONLY | O_CREAT | O_EXCL |
				      O_CLOEXEC, 0644);

			if (fd < 0)
				continue;
			close(fd);
			ok += stat(paths[i], &st) == 0 &&
			      unlink(paths[i]) == 0;
		}
	} else {
		fprintf(stderr, "hotpath-helper: unknown operation %s\n", op);
		return 2;
	}
	t = now_ns() - t;
	printf("%llu %zu %zu\n", (unsigned long long)t, ok, n - ok);
	return 0;
}

static int list_dir(const char *dir, long reps)
{
	size_t ok = 0, bad = 0;
	uint64_t t;

	settle();
	t = now_ns();
	for (long r = 0; r < reps; r++) {
		DIR *d = opendir(dir);
		struct dirent *e;

		if (!d) {
			bad++;
			continue;
		}
		while ((e = readdir(d)))
			ok += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
	}
	t = now_ns() - t;
	printf("%llu %zu %zu\n", (unsigned long long)t, ok, bad);
	return 0;
}

static int random_reads(const char *file, long count)
{
	static char buf[1 << 16];
	uint64_t x = 0x9e3779b97f4a7c15u, t, blocks;
	size_t ok = 0;
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st))
		die(file);
	blocks = st.st_size / BLOCK;
	if (!blocks) {
		fprintf(stderr, "hotpath-helper: %s is under 4 KiB\n", file);
		return 2;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;	/* untimed: every page cached */
	settle();
	t = now_ns();
	for (long i = 0; i < count; i++) {
		x ^= x << 13;	/* xorshift64: the same offsets every run */
		x ^= x >> 7;
		x ^= x << 17;
		ok += pread(fd, buf, BLOCK, (off_t)(x % blocks) * BLOCK) == BLOCK;
	}
	t = now_ns() - t;
	close(fd);
	printf("%llu %zu %zu\n", (unsigned long long)t, ok, count - ok);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2)
		return path_ops(argv[1]);
	if (argc == 4 && !strcmp(argv[1], "readdir"))
		return list_dir(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "pread"))
		return random_reads(argv[2], atol(argv[3]));
	fprintf(stderr, "usage: hotpath-helper stat|enoent|open|cycle < PATHS\n"
		"       hotpath-helper readdir DIR REPS\n"
		"       hotpath-helper pread FILE COUNT\n");
	return 2;
}
