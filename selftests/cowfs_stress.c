// SPDX-License-Identifier: GPL-2.0
/*
 * cowfs_stress: random operations by many processes on a union with
 * several lower layers, checked against a reference tree.
 *
 * Setup: lower layers l0 (top) .. l<L-1> are generated at random, per
 * worker, one layer at a time from the bottom up: files, directories
 * merged with the layers below, opaque directories, whiteouts, files
 * over directories and directories over files, symlinks and user.*
 * xattrs.  Every change is applied to a plain reference directory
 * (ref/) as well, so that ref/ always holds what the union must show.
 *
 * Phase "random": N worker processes each run random operations for T
 * seconds: create, write, mmap write, truncate, rename (plain, NOREPLACE,
 * EXCHANGE), link, unlink, mkdir, rmdir, rm -r, setxattr, removexattr,
 * readdir, fsync, read, symlink, chmod.  Every operation is done on the
 * union and then on the reference, and the two must agree: same result,
 * same errno, same bytes written, same attributes of the names touched.
 * Worker w owns the subtree wNN/ and the names "wNN.*" in the merged
 * directories shared/, shared/a and shared/a/b, so the reference stays
 * exact while all workers copy up, white out and redirect in the same
 * merged directories at once.
 *
 * Phase "rename storm": N processes move tokens (lower files and merged
 * lower directories) between the merged directories contend/rs/r0..r7.
 * Every rename must succeed or fail with ENOENT (lost a race); at the
 * end every token is in exactly one place with its contents intact.
 *
 * Phase "readdir race": half the processes create and unlink names
 * (over lower files: whiteouts) in the merged directory contend/rd, the
 * other half read it with small getdents64 buffers: no name twice in a
 * pass, every stable name present, no whiteout shown, every name
 * stat-able or ENOENT.  The writers' final state must then be exact.
 *
 * Verification, after each phase and again after drop_caches, after a
 * umount and a mount of the same layers, on a fresh read-only union of
 * the upper layer over the lower layers, and (when overlayfs is there)
 * on overlayfs reading the same layers: the whole tree is walked and
 * names, types, modes, sizes, link counts, contents, symlink targets and
 * xattrs must equal the reference, with no name listed twice, and names
 * that are one inode in the reference must be one inode in the union
 * (and only those).  umount must succeed and leave workdir/work empty.
 *
 * usage: cowfs_stress [-p PROCS] [-t SECONDS] [-c SECONDS] [-l LAYERS]
 *                     [-s SEED] [-d DIR] [-k] [-x OP,...]
 * Exit status: 0 all checks passed, 1 a check failed, 4 skipped (not
 * root, or the filesystem type is not registered).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "cowfs_util.h"

#define MAX_PROCS	64
#define MAX_LAYERS	16
#define MAX_DEPTH	12	/* path components: keeps redirects short */
#define LOG_RING	24
#define LOG_LEN		400
#define BUF_SIZE	(4 << 20)
#define MAX_REPORT	40
#define GRACE_SECS	600	/* after the deadline, a worker is hung */

/* Rename storm and readdir race layout */
#define RS_DIRS		8
#define RS_FILES	48
#define RS_DIRTOKS	12
#define RS_TOKENS	(RS_FILES + RS_DIRTOKS)
#define RD_STABLE	24
#define RD_TRANS	4	/* lower files per writer: unlinked, recreated */
#define RD_NEW		8	/* new files per writer */
#define RD_DIRS		2	/* directories per writer */
#define RD_NAMES	(RD_TRANS + RD_NEW + RD_DIRS)

enum op {
	OP_CREATE, OP_WRITE, OP_MMAP, OP_TRUNCATE, OP_RENAME, OP_LINK,
	OP_UNLINK, OP_MKDIR, OP_RMDIR, OP_RMTREE, OP_SETXATTR, OP_RMXATTR,
	OP_READDIR, OP_FSYNC, OP_READ, OP_SYMLINK, OP_CHMOD, NR_OPS
};

static const struct {
	const char *name;
	unsigned int weight;
} ops[NR_OPS] = {
	[OP_CREATE]	= { "create", 12 },
	[OP_WRITE]	= { "write", 14 },
	[OP_MMAP]	= { "mmap-write", 6 },
	[OP_TRUNCATE]	= { "truncate", 5 },
	[OP_RENAME]	= { "rename", 12 },
	[OP_LINK]	= { "link", 5 },
	[OP_UNLINK]	= { "unlink", 9 },
	[OP_MKDIR]	= { "mkdir", 7 },
	[OP_RMDIR]	= { "rmdir", 5 },
	[OP_RMTREE]	= { "rm-r", 2 },
	[OP_SETXATTR]	= { "setxattr", 6 },
	[OP_RMXATTR]	= { "removexattr", 2 },
	[OP_READDIR]	= { "readdir", 5 },
	[OP_FSYNC]	= { "fsync", 3 },
	[OP_READ]	= { "read", 6 },
	[OP_SYMLINK]	= { "symlink", 2 },
	[OP_CHMOD]	= { "chmod", 2 },
};

struct wstats {
	unsigned long done[NR_OPS];	/* both sides succeeded */
	unsigned long erred[NR_OPS];	/* both sides failed alike */
	unsigned long mismatches;
};

struct rd_writer {
	unsigned char present[RD_NAMES];
	unsigned int gen[RD_NAMES];
};

/* Shared by all processes (MAP_SHARED) */
struct shared {
	int failed;
	struct wstats ws[MAX_PROCS];
	int rs_hint[RS_TOKENS];
	unsigned long rs_renames, rs_enoent, rs_reads;
	unsigned long rd_passes, rd_entries, rd_changes;
	struct rd_writer rd[MAX_PROCS];
};

static struct shared *sh;

/* Configuration */
static int nprocs = 8;
static int duration = 120;
static int cduration = -1;
static int nlayers = 3;
static unsigned long long seed;
static bool keep;
static char base[PATH_MAX], mnt[PATH_MAX], ref[PATH_MAX];
static char upper[PATH_MAX], work[PATH_MAX];
static char layer[MAX_LAYERS][PATH_MAX];
static const char *fstype;
static int failures;
static unsigned int excluded;	/* bit per enum op: left out with -x */
static bool hung;

/* A worker's state: its names, random state and a log of its last ops */
struct wctx {
	int id;
	uint64_t rng;
	char own[8];		/* "w03" */
	char prefix[8];		/* "w03." */
	char log[LOG_RING][LOG_LEN];
	unsigned long nops;
	bool logged;		/* printed its last operations */
	bool diverged;		/* union and reference differ: stop */
	unsigned int nfails;
	unsigned char *buf, *buf2;
	struct wstats *st;
	int layer;		/* generating: the layer being built */
};

/* The anchors of a worker: fixed merged directories it works in. */
static const char *const shared_anchor[] = { "shared", "shared/a", "shared/a/b" };
#define NR_SHARED_ANCHORS ARRAY_LEN(shared_anchor)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("# %s\n", line);
	fflush(stdout);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * snprintf() that must not truncate: the paths made here are far shorter
 * than PATH_MAX, so a truncated one would be a bug of this tool.
 */
static void fmt(char *buf, size_t size, const char *f, ...)
	__attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		die("string too long: %.80s...", buf);
	}
}

static const char *ename(int err)
{
	const char *n;

	if (!err)
		return "ok";
	n = strerrorname_np(err);
	return n ? n : "E?";
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- random numbers ------------------------------------------------------ */

static uint64_t rnd64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd(struct wctx *w, unsigned int n)
{
	return n ? (unsigned int)(rnd64(&w->rng) % n) : 0;
}

static void rnd_fill(struct wctx *w, unsigned char *p, size_t len)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i & 7))
			v = rnd64(&w->rng);
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* Mostly small, sometimes large, rarely larger than a copy-up chunk. */
static size_t rnd_size(struct wctx *w, bool huge_ok)
{
	unsigned int r = rnd(w, 100);

	if (r < 15)
		return rnd(w, 64);
	if (r < 60)
		return rnd(w, 4096);
	if (r < 90)
		return rnd(w, 65536);
	if (r < 98 || !huge_ok)
		return rnd(w, 512 * 1024);
	return (1 << 20) + rnd(w, 1536 * 1024);
}

/* ---- paths ----------------------------------------------------------------- */

static char *upath(char *buf, const char *rel)
{
	fmt(buf, PATH_MAX, "%s/%s", mnt, rel);
	return buf;
}

static char *rpath(char *buf, const char *rel)
{
	fmt(buf, PATH_MAX, "%s/%s", ref, rel);
	return buf;
}

static int depth_of(const char *rel)
{
	int d = 1;

	for (; *rel; rel++)
		d += *rel == '/';
	return d;
}

static bool is_shared_anchor(const char *rel)
{
	size_t i;

	for (i = 0; i < NR_SHARED_ANCHORS; i++)
		if (!strcmp(rel, shared_anchor[i]))
			return true;
	return false;
}

static bool is_anchor(struct wctx *w, const char *rel)
{
	return !strcmp(rel, w->own) || is_shared_anchor(rel);
}

static void parent_of(const char *rel, char *out)
{
	const char *slash = strrchr(rel, '/');

	if (!slash) {
		strcpy(out, "");
		return;
	}
	memcpy(out, rel, slash - rel);
	out[slash - rel] = '\0';
}

struct dent {
	char *name;
	unsigned char type;
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

static void free_dents(struct dent *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

/*
 * Read directory @path into a sorted array; only names starting with
 * @prefix when it is not NULL.  Returns the count or -errno.
 */
static ssize_t list_dir(const char *path, const char *prefix, struct dent **out)
{
	size_t n = 0, cap = 0, plen = prefix ? strlen(prefix) : 0;
	struct dent *d = NULL, *tmp;
	struct dirent *de;
	DIR *dir = opendir(path);

	*out = NULL;
	if (!dir)
		return -errno;
	errno = 0;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (prefix && strncmp(de->d_name, prefix, plen))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			tmp = realloc(d, cap * sizeof(*d));
			if (!tmp)
				break;
			d = tmp;
		}
		d[n].name = strdup(de->d_name);
		d[n].type = de->d_type;
		n++;
	}
	if (errno) {
		int err = -errno;

		closedir(dir);
		free_dents(d, n);
		return err;
	}
	closedir(dir);
	qsort(d, n, sizeof(*d), dent_cmp);
	*out = d;
	return n;
}

static const char *anchor_prefix(struct wctx *w, const char *rel)
{
	return is_shared_anchor(rel) ? w->prefix : NULL;
}

enum pick { P_ANY, P_DIR, P_FILE };

/*
 * A random path of the worker, chosen by a random walk in the reference
 * from one of its anchors.  P_DIR may return an anchor (as a parent for
 * new names); P_ANY and P_FILE never do, and mostly return what was
 * asked for.  Returns false when nothing was found.
 */
static bool pick_path(struct wctx *w, enum pick want, char *rel)
{
	int tries;

	for (tries = 0; tries < 8; tries++) {
		char cur[PATH_MAX], rp[PATH_MAX];
		unsigned int a = rnd(w, 1 + NR_SHARED_ANCHORS);
		int depth;

		fmt(cur, sizeof(cur), "%s", a ? shared_anchor[a - 1] : w->own);
		for (depth = 0; depth < MAX_DEPTH + 4; depth++) {
			struct dent *d;
			ssize_t n = list_dir(rpath(rp, cur), anchor_prefix(w, cur), &d);
			size_t i, ndirs = 0, k;

			if (n < 0)
				break;
			for (i = 0; i < (size_t)n; i++)
				ndirs += d[i].type == DT_DIR;
			if (want == P_DIR) {
				if (!ndirs || !rnd(w, 3)) {
					free_dents(d, n);
					strcpy(rel, cur);
					return true;
				}
				k = rnd(w, ndirs);
				for (i = 0; i < (size_t)n; i++)
					if (d[i].type == DT_DIR && !k--)
						break;
			} else {
				if (!n) {
					free_dents(d, n);
					if (is_anchor(w, cur))
						break;
					strcpy(rel, cur);
					return true;
				}
				i = rnd(w, n);
				if (d[i].type != DT_DIR ||
				    (want == P_FILE ? rnd(w, 8) : rnd(w, 2))) {
					if (d[i].type == DT_DIR && want == P_FILE) {
						/* descend looking for a file */
					} else {
						fmt(rel, PATH_MAX, "%s/%s", cur, d[i].name);
						free_dents(d, n);
						return true;
					}
				}
			}
			fmt(rp, sizeof(rp), "%s/%s", cur, d[i].name);
			strcpy(cur, rp);
			free_dents(d, n);
		}
	}
	return false;
}

/* Names are short (redirects must fit) except some non-directories. */
static const char *const odd_names[] = {
	"sp ace", "-dash", "\xc3\xa9t\xc3\xa9", "a.b", "..x", "#hash", "x~",
};

static void new_name(struct wctx *w, const char *parent, bool long_ok,
		     char *rel)
{
	const char *pfx = is_shared_anchor(parent) || !rnd(w, 4) ? w->prefix : "";
	unsigned int r = rnd(w, 100);
	char name[NAME_MAX + 64];

	if (long_ok && r < 1 && w->st) {
		/* too long (not while generating the layers): ENAMETOOLONG */
		size_t len = NAME_MAX + 1 + rnd(w, 40);

		memset(name, 'N', len);
		name[len] = '\0';
	} else if (long_ok && r < 4) {
		size_t len = 100 + rnd(w, NAME_MAX - 100 - 4);

		memset(name, 'L', len);
		fmt(name + len - 4, 5, "%04u", rnd(w, 10000));
	} else if (r < 10) {
		fmt(name, sizeof(name), "%s",
			 odd_names[rnd(w, ARRAY_LEN(odd_names))]);
	} else {
		fmt(name, sizeof(name), "e%u", rnd(w, 16));
	}
	fmt(rel, PATH_MAX, "%s/%s%s", parent, pfx, name);
}

/* Levels below and including @abs: 1 for a non-directory. */
static int subtree_depth(const char *abs)
{
	struct dent *d;
	ssize_t n = list_dir(abs, NULL, &d);
	int max = 0, i;

	if (n < 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (d[i].type == DT_DIR) {
			char sub[PATH_MAX];
			int sd;

			fmt(sub, sizeof(sub), "%s/%s", abs, d[i].name);
			sd = subtree_depth(sub);
			if (sd > max)
				max = sd;
		}
	}
	free_dents(d, n);
	return 1 + max;
}

/* ---- reporting --------------------------------------------------------------- */

static void oplog(struct wctx *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void oplog(struct wctx *w, const char *fmt, ...)
{
	char *line = w->log[w->nops % LOG_RING];
	int n;
	va_list ap;

	n = snprintf(line, LOG_LEN, "#%lu ", w->nops);
	va_start(ap, fmt);
	vsnprintf(line + n, LOG_LEN - n, fmt, ap);
	va_end(ap);
}

static void wfail(struct wctx *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void wfail(struct wctx *w, const char *fmt, ...)
{
	char msg[1024];
	unsigned long i;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->st)
		w->st->mismatches++;
	__atomic_fetch_add(&sh->failed, 1, __ATOMIC_SEQ_CST);
	w->diverged = true;
	if (++w->nfails > 10)
		return;
	say("FAIL [%s op #%lu] %s", w->own, w->nops, msg);
	if (w->logged)
		return;
	w->logged = true;
	say("  last operations of %s (seed %llu):", w->own, seed);
	i = w->nops >= LOG_RING ? w->nops - LOG_RING + 1 : 0;
	for (; i <= w->nops; i++)
		if (w->log[i % LOG_RING][0])
			say("    %s", w->log[i % LOG_RING]);
}

/*
 * Compare the outcome of one call on the union (@ru, errno @eu) and on
 * the reference.  Returns true when they agree.
 */
static bool agree(struct wctx *w, const char *what, long ru, int eu, long rr,
		  int er)
{
	if ((ru < 0) == (rr < 0) && (ru < 0 ? eu == er : ru == rr))
		return true;
	wfail(w, "%s: union %ld (%s), reference %ld (%s)", what, ru,
	      ru < 0 ? ename(eu) : "ok", rr, rr < 0 ? ename(er) : "ok");
	/* Both failed, with different errors: nothing changed, go on */
	if (ru < 0 && rr < 0)
		w->diverged = false;
	return false;
}

/* Run @call on the union then on the reference; fail unless they agree. */
#define BOTH(w, what, call_u, call_r) ({ \
	long __ru, __rr; int __eu, __er; \
	errno = 0; __ru = (long)(call_u); __eu = errno; \
	errno = 0; __rr = (long)(call_r); __er = errno; \
	bool __ok = agree(w, what, __ru, __eu, __rr, __er); \
	(void)__eu; \
	__ok ? (__ru < 0 ? -__er : 0) : 1; \
})
/* BOTH() is 0 when both succeeded, -errno when both failed alike, 1 else */

/* Attributes that must be equal between the union and the reference. */
static bool same_stat(struct wctx *w, const char *rel, const struct stat *su,
		      const struct stat *sr)
{
	if ((su->st_mode & S_IFMT) != (sr->st_mode & S_IFMT)) {
		wfail(w, "%s: type 0%o in union, 0%o in reference", rel,
		      su->st_mode & S_IFMT, sr->st_mode & S_IFMT);
		return false;
	}
	if (!S_ISLNK(sr->st_mode) && su->st_mode != sr->st_mode) {
		wfail(w, "%s: mode 0%o in union, 0%o in reference", rel,
		      su->st_mode, sr->st_mode);
		return false;
	}
	if (S_ISREG(sr->st_mode) && su->st_size != sr->st_size) {
		wfail(w, "%s: size %lld in union, %lld in reference", rel,
		      (long long)su->st_size, (long long)sr->st_size);
		return false;
	}
	if (S_ISREG(sr->st_mode) && su->st_nlink != sr->st_nlink) {
		wfail(w, "%s: nlink %lu in union, %lu in reference", rel,
		      (unsigned long)su->st_nlink, (unsigned long)sr->st_nlink);
		return false;
	}
	return true;
}

/* lstat @rel on both sides and compare. */
static bool check_path(struct wctx *w, const char *rel)
{
	char up[PATH_MAX], rp[PATH_MAX];
	struct stat su, sr;
	int r = BOTH(w, "lstat", lstat(upath(up, rel), &su), lstat(rpath(rp, rel), &sr));

	if (r > 0)
		return false;
	return r < 0 || same_stat(w, rel, &su, &sr);
}

/* Compare the contents of two open files; @what names them. */
static bool same_content(struct wctx *w, int fdu, int fdr, const char *what)
{
	unsigned char *a = w->buf, *b = w->buf2;
	off_t off = 0;

	for (;;) {
		ssize_t nu = pread(fdu, a, 65536, off);
		int eu = errno;
		ssize_t nr = pread(fdr, b, 65536, off);
		int er = errno;

		if (!agree(w, what, nu, eu, nr, er))
			return false;
		if (nu <= 0)
			return true;
		if (memcmp(a, b, nu)) {
			ssize_t i;

			for (i = 0; i < nu && a[i] == b[i]; i++)
				;
			wfail(w, "%s: contents differ at offset %lld: 0x%02x in union, 0x%02x in reference",
			      what, (long long)(off + i), a[i], b[i]);
			return false;
		}
		off += nu;
	}
}

/* Compare the xattr names and values of @rel (not following symlinks). */
static bool same_xattrs(const char *up, const char *rp, char *msg, size_t msgsz)
{
	char lu[4096], lr[4096], vu[4096], vr[4096];
	ssize_t nu = llistxattr(up, lu, sizeof(lu));
	int eu = errno;
	ssize_t nr = llistxattr(rp, lr, sizeof(lr));
	int er = errno;
	ssize_t i;

	if (nu < 0 || nr < 0) {
		if ((nu < 0) != (nr < 0) || eu != er) {
			fmt(msg, msgsz, "listxattr: union %s, reference %s",
				 nu < 0 ? ename(eu) : "ok", nr < 0 ? ename(er) : "ok");
			return false;
		}
		return true;
	}
	/* Both lists are in the order the filesystem keeps: compare as sets */
	for (i = 0; i < nr; i += strlen(lr + i) + 1) {
		ssize_t j, lvu, lvr;
		bool found = false;

		for (j = 0; j < nu; j += strlen(lu + j) + 1)
			found |= !strcmp(lu + j, lr + i);
		if (!found) {
			fmt(msg, msgsz, "xattr %s missing in union", lr + i);
			return false;
		}
		lvu = lgetxattr(up, lr + i, vu, sizeof(vu));
		lvr = lgetxattr(rp, lr + i, vr, sizeof(vr));
		if (lvu != lvr || (lvr > 0 && memcmp(vu, vr, lvr))) {
			fmt(msg, msgsz, "xattr %s: %zd bytes in union, %zd in reference%s",
				 lr + i, lvu, lvr, lvu == lvr ? " (different values)" : "");
			return false;
		}
	}
	for (i = 0; i < nu; i += strlen(lu + i) + 1) {
		ssize_t j;
		bool found = false;

		for (j = 0; j < nr; j += strlen(lr + j) + 1)
			found |= !strcmp(lr + j, lu + i);
		if (!found) {
			fmt(msg, msgsz, "xattr %s in union only", lu + i);
			return false;
		}
	}
	return true;
}

/* ---- building the layers and the reference ---------------------------------- */

static void die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("FAIL setup: %s (%s)", msg, strerror(errno));
	exit(1);
}

static void rm_rf_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode))
		rm_rf(path);
	else if (unlink(path))
		die("unlink %s", path);
	if (!lstat(path, &st))
		die("could not remove %s", path);
}

static void strip_xattrs(const char *path)
{
	char list[4096];
	ssize_t n = llistxattr(path, list, sizeof(list)), i;

	for (i = 0; n > 0 && i < n; i += strlen(list + i) + 1)
		if (lremovexattr(path, list + i))
			die("removexattr %s %s", path, list + i);
}

/*
 * Make sure directory @rel (a directory in the reference) exists in the
 * layer being built.  A directory made here merges with the ones below,
 * and, being the topmost, gives the merged directory its mode and xattrs.
 */
static void layer_dirs(struct wctx *w, const char *rel)
{
	char comp[PATH_MAX], lp[PATH_MAX], rp[PATH_MAX];
	const char *p = rel;
	struct stat st;

	for (;;) {
		p = strchr(p, '/');
		fmt(comp, sizeof(comp), "%.*s", p ? (int)(p - rel) : (int)strlen(rel), rel);
		fmt(lp, sizeof(lp), "%s/%s", layer[w->layer], comp);
		if (lstat(lp, &st)) {
			if (mkdir(lp, 0755))
				die("mkdir %s", lp);
			rpath(rp, comp);
			if (chmod(rp, 0755))
				die("chmod %s", rp);
			strip_xattrs(rp);
		} else if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			die("layer entry %s is not a directory", lp);
		}
		if (!p)
			break;
		p++;
	}
}

static void layer_prepare(struct wctx *w, const char *rel, char *lp, char *rp)
{
	char parent[PATH_MAX];

	parent_of(rel, parent);
	layer_dirs(w, parent);
	fmt(lp, PATH_MAX, "%s/%s", layer[w->layer], rel);
	rpath(rp, rel);
	rm_rf_path(lp);
	rm_rf_path(rp);
}

static void put_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0 || write_all(fd, data, len) || fchmod(fd, mode) || close(fd))
		die("create %s", path);
}

static bool is_whiteout_st(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/*
 * How many layers' directories make up directory @rel of a union of the
 * layers from @from down (redirects aside: the generated layers have
 * none); 0 if @rel is not a directory there.
 */
static int live_layers(const char *rel, int from)
{
	int live[MAX_LAYERS], nlive = 0, l;
	char prefix[PATH_MAX] = "";
	const char *p = rel;

	for (l = from; l < nlayers; l++)
		live[nlive++] = l;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		int newlive[MAX_LAYERS], n = 0, i;

		fmt(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "%s%.*s",
		    *prefix ? "/" : "", (int)len, p);
		for (i = 0; i < nlive; i++) {
			char lp[PATH_MAX];
			struct stat st;

			fmt(lp, sizeof(lp), "%s/%s", layer[live[i]], prefix);
			if (lstat(lp, &st))
				continue;
			if (!S_ISDIR(st.st_mode)) {
				if (!n && !is_whiteout_st(&st))
					return 0;
				break;
			}
			newlive[n++] = live[i];
			if (lgetxattr(lp, COWFS_OPAQUE_XATTR, NULL, 0) > 0)
				break;
		}
		if (!n)
			return 0;
		memcpy(live, newlive, n * sizeof(*live));
		nlive = n;
		p += len;
		while (*p == '/')
			p++;
	}
	return nlive;
}

static const mode_t file_modes[] = { 0644, 0600, 0755, 0640, 0444 };
static const mode_t dir_modes[] = { 0755, 0700, 0750, 0777 };

static void gen_file(struct wctx *w, const char *rel)
{
	char lp[PATH_MAX], rp[PATH_MAX];
	size_t len = rnd_size(w, true);
	mode_t mode = file_modes[rnd(w, ARRAY_LEN(file_modes))];

	layer_prepare(w, rel, lp, rp);
	rnd_fill(w, w->buf, len);
	put_file(lp, w->buf, len, mode);
	put_file(rp, w->buf, len, mode);
}

/*
 * A directory is opaque where the reference has a directory, or where
 * the layers below have one (hidden by a whiteout of this layer).
 */
static void gen_dir(struct wctx *w, const char *rel)
{
	char lp[PATH_MAX], rp[PATH_MAX];
	mode_t mode = dir_modes[rnd(w, ARRAY_LEN(dir_modes))];
	struct stat st;
	bool opaque = (!lstat(rpath(rp, rel), &st) && S_ISDIR(st.st_mode)) ||
		      live_layers(rel, w->layer + 1) > 0;

	layer_prepare(w, rel, lp, rp);
	if (mkdir(lp, mode) || chmod(lp, mode) || mkdir(rp, mode) || chmod(rp, mode))
		die("mkdir %s", rel);
	if (opaque && setxattr(lp, COWFS_OPAQUE_XATTR, "y", 1, 0))
		die("setxattr opaque %s", lp);
}

static void gen_whiteout(struct wctx *w, const char *rel)
{
	char lp[PATH_MAX], rp[PATH_MAX];

	layer_prepare(w, rel, lp, rp);
	if (mknod(lp, S_IFCHR, makedev(0, 0)))
		die("mknod %s", lp);
}

static void gen_symlink(struct wctx *w, const char *rel)
{
	char lp[PATH_MAX], rp[PATH_MAX], target[64];

	/* Prefixed: wherever it is moved to, it points at the worker's names */
	fmt(target, sizeof(target), "%s%se%u",
		 rnd(w, 2) ? "" : "../", w->prefix, rnd(w, 16));
	layer_prepare(w, rel, lp, rp);
	if (symlink(target, lp) || symlink(target, rp))
		die("symlink %s", rel);
}

/* An xattr on something this layer made (the one the union shows). */
static void gen_xattr(struct wctx *w, const char *rel)
{
	char lp[PATH_MAX], rp[PATH_MAX], name[32];
	size_t len = rnd(w, 3) ? rnd(w, 64) : rnd(w, 2000);
	struct stat st;

	fmt(lp, sizeof(lp), "%s/%s", layer[w->layer], rel);
	if (lstat(lp, &st) || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ||
	    is_anchor(w, rel))
		return;
	fmt(name, sizeof(name), "user.g%u", rnd(w, 4));
	rnd_fill(w, w->buf, len);
	if (lsetxattr(lp, name, w->buf, len, 0) ||
	    lsetxattr(rpath(rp, rel), name, w->buf, len, 0))
		die("setxattr %s", rel);
}

static void gen_change(struct wctx *w)
{
	char rel[PATH_MAX], parent[PATH_MAX], rp[PATH_MAX];
	unsigned int r = rnd(w, 100);
	struct stat st;

	if (r < 35) {			/* new file, or a file over anything */
		if (rnd(w, 4) || !pick_path(w, P_ANY, rel)) {
			if (!pick_path(w, P_DIR, parent))
				return;
			new_name(w, parent, true, rel);
		}
		if (depth_of(rel) <= MAX_DEPTH)
			gen_file(w, rel);
	} else if (r < 52) {		/* new dir, or opaque over a dir */
		if (rnd(w, 4) || !pick_path(w, P_ANY, rel)) {
			if (!pick_path(w, P_DIR, parent))
				return;
			new_name(w, parent, false, rel);
		}
		/* Existing names keep their length: dirs only get short ones */
		if (depth_of(rel) <= MAX_DEPTH - 2 && strlen(strrchr(rel, '/')) < 16)
			gen_dir(w, rel);
	} else if (r < 64) {		/* whiteout, sometimes of nothing */
		if (rnd(w, 5) && pick_path(w, P_ANY, rel)) {
			gen_whiteout(w, rel);
		} else if (pick_path(w, P_DIR, parent)) {
			new_name(w, parent, false, rel);
			if (lstat(rpath(rp, rel), &st))
				gen_whiteout(w, rel);
		}
	} else if (r < 76) {		/* xattr */
		if (pick_path(w, P_ANY, rel))
			gen_xattr(w, rel);
	} else if (r < 82) {		/* symlink */
		if (pick_path(w, P_DIR, parent)) {
			new_name(w, parent, false, rel);
			gen_symlink(w, rel);
		}
	} else {			/* merge: a plain dir on top of one below */
		if (pick_path(w, P_DIR, rel))
			layer_dirs(w, rel);
	}
}

/* The anchors exist, merged, in every layer. */
static void gen_anchors(const char *rel)
{
	char p[PATH_MAX];
	int l;

	for (l = 0; l < nlayers; l++)
		if (mkdir_p(pathf("%s/%s", layer[l], rel), 0755))
			die("mkdir %s in layer %d", rel, l);
	if (mkdir_p(rpath(p, rel), 0755))
		die("mkdir %s in reference", rel);
}

static void gen_worker_area(struct wctx *w)
{
	int l, c;

	gen_anchors(w->own);
	for (l = nlayers - 1; l >= 0; l--) {
		int n = 8 + rnd(w, 16);

		w->layer = l;
		for (c = 0; c < n; c++)
			gen_change(w);
	}
}

/*
 * overlayfs shows a whiteout in a directory that is not merged with any
 * below as the character device it is; cowfs never shows one.  Such a
 * whiteout hides nothing: drop it, so that overlayfs can cross-check.
 */
static void drop_lone_whiteouts(int l, const char *rel)
{
	char lp[PATH_MAX], sub[PATH_MAX];
	struct dent *d;
	ssize_t n, i;

	fmt(lp, sizeof(lp), "%s%s%s", layer[l], *rel ? "/" : "", rel);
	n = list_dir(lp, NULL, &d);
	for (i = 0; i < n; i++) {
		struct stat st;

		fmt(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", d[i].name);
		fmt(lp, sizeof(lp), "%s/%s", layer[l], sub);
		if (lstat(lp, &st))
			die("lstat %s", lp);
		if (S_ISDIR(st.st_mode))
			drop_lone_whiteouts(l, sub);
		else if (is_whiteout_st(&st) && live_layers(rel, 0) < 2 && unlink(lp))
			die("unlink %s", lp);
	}
	if (n > 0)
		free_dents(d, n);
}

/* contend/: the layers the contention phases start from. */
static void rs_token_name(int k, char *name, size_t size)
{
	if (k < RS_FILES)
		fmt(name, size, "f%02d", k);
	else
		fmt(name, size, "d%02d", k - RS_FILES);
}

static size_t rs_content(int k, const char *name, unsigned char *buf)
{
	size_t len = 100 + 37 * k, i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(name[i % strlen(name)] + i / 7);
	return len;
}

static void put_both(const char *lrel_layer, const char *rel,
		     const unsigned char *data, size_t len)
{
	char rp[PATH_MAX];

	if (mkparent(pathf("%s/%s", lrel_layer, rel)) || mkparent(rpath(rp, rel)))
		die("mkdir for %s", rel);
	put_file(pathf("%s/%s", lrel_layer, rel), data, len, 0644);
	if (lstat(rp, &(struct stat){0}))
		put_file(rp, data, len, 0644);
}

static void gen_contend(unsigned char *buf)
{
	char rel[PATH_MAX], name[16];
	int k, j, p;

	for (j = 0; j < RS_DIRS; j++)
		gen_anchors(pathf("contend/rs/r%d", j));
	gen_anchors("contend/rd");
	for (k = 0; k < RS_TOKENS; k++) {
		int d = k % RS_DIRS, l = k % nlayers;

		rs_token_name(k, name, sizeof(name));
		sh->rs_hint[k] = d;
		if (k < RS_FILES) {
			fmt(rel, sizeof(rel), "contend/rs/r%d/%s", d, name);
			put_both(layer[l], rel, buf, rs_content(k, name, buf));
			continue;
		}
		/* A directory token merged from two layers */
		for (j = 0; j < 3; j++) {
			char xname[32];
			int xl = j < 2 ? l : (l + 1) % nlayers;

			fmt(xname, sizeof(xname), "%s/x%d", name, j);
			fmt(rel, sizeof(rel), "contend/rs/r%d/%s", d, xname);
			put_both(layer[xl], rel, buf, rs_content(k, xname, buf));
		}
	}
	for (k = 0; k < RD_STABLE; k++) {
		fmt(rel, sizeof(rel), "contend/rd/s%02d", k);
		put_both(layer[k % nlayers], rel, (const unsigned char *)rel,
			 strlen(rel));
	}
	for (p = 0; p < nprocs; p++) {
		for (k = 0; k < RD_TRANS; k++) {
			fmt(rel, sizeof(rel), "contend/rd/t%d_%d", p, k);
			put_both(layer[(p + k) % nlayers], rel,
				 (const unsigned char *)rel, strlen(rel));
			sh->rd[p].present[k] = 1;
		}
	}
}

/* ---- the worker operations ---------------------------------------------------- */

/* Open @rel on both sides with @flags; false if they disagree. */
static bool open_both(struct wctx *w, const char *rel, int flags, int *fdu,
		      int *fdr)
{
	char up[PATH_MAX], rp[PATH_MAX];
	int eu, er;

	*fdu = open(upath(up, rel), flags | O_CLOEXEC);
	eu = errno;
	*fdr = open(rpath(rp, rel), flags | O_CLOEXEC);
	er = errno;
	if (agree(w, "open", *fdu < 0 ? -1 : 0, eu, *fdr < 0 ? -1 : 0, er))
		return true;
	if (*fdu >= 0)
		close(*fdu);
	if (*fdr >= 0)
		close(*fdr);
	*fdu = *fdr = -1;
	return false;
}

static bool close_both(struct wctx *w, int fdu, int fdr)
{
	return BOTH(w, "close", close(fdu), close(fdr)) <= 0;
}

static void op_create(struct wctx *w)
{
	char rel[PATH_MAX], parent[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (rnd(w, 3) ? O_EXCL : O_TRUNC);
	mode_t mode = file_modes[rnd(w, ARRAY_LEN(file_modes))];
	size_t len = rnd_size(w, false);
	int fdu, fdr, eu, er;

	if (!pick_path(w, P_DIR, parent))
		return;
	if (rnd(w, 5) || !pick_path(w, P_FILE, rel))
		new_name(w, parent, true, rel);
	oplog(w, "create %s flags 0%o mode 0%o len %zu", rel, flags, mode, len);
	fdu = open(upath(up, rel), flags, mode);
	eu = errno;
	fdr = open(rpath(rp, rel), flags, mode);
	er = errno;
	if (!agree(w, "open(O_CREAT)", fdu < 0 ? -1 : 0, eu, fdr < 0 ? -1 : 0, er))
		goto out;
	if (fdu < 0) {
		if (check_path(w, rel))
			w->st->erred[OP_CREATE]++;
		goto out;
	}
	rnd_fill(w, w->buf, len);
	if (BOTH(w, "write", write_all(fdu, w->buf, len) ? -1 : 0,
		 write_all(fdr, w->buf, len) ? -1 : 0) > 0)
		goto out;
	if (!close_both(w, fdu, fdr))
		return;
	if (check_path(w, rel))
		w->st->done[OP_CREATE]++;
	return;
out:
	if (fdu >= 0)
		close(fdu);
	if (fdr >= 0)
		close(fdr);
}


static void op_write(struct wctx *w)
{
	char rel[PATH_MAX];
	int flags = O_WRONLY | (rnd(w, 5) ? 0 : O_APPEND);
	struct stat st;
	size_t len;
	off_t off;
	int fdu, fdr, r;

	if (!pick_path(w, P_FILE, rel))
		return;
	oplog(w, "write %s: open flags 0%o", rel, flags);
	if (!open_both(w, rel, flags, &fdu, &fdr))
		return;
	if (fdu < 0) {
		w->st->erred[OP_WRITE]++;
		return;
	}
	if (fstat(fdr, &st))
		st.st_size = 0;
	off = rnd(w, st.st_size + 8192 + 1);
	len = 1 + rnd(w, rnd(w, 4) ? 4096 : 65536);
	rnd_fill(w, w->buf, len);
	oplog(w, "write %s flags 0%o off %lld len %zu", rel, flags, (long long)off, len);
	r = BOTH(w, "pwrite", pwrite(fdu, w->buf, len, off), pwrite(fdr, w->buf, len, off));
	if (!r && rnd(w, 4) == 0) {
		/* and a plain write() after an lseek() */
		off = rnd(w, st.st_size + 1);
		r = BOTH(w, "lseek", lseek(fdu, off, SEEK_SET), lseek(fdr, off, SEEK_SET));
		if (!r)
			r = BOTH(w, "write", write(fdu, w->buf, len / 2 + 1),
				 write(fdr, w->buf, len / 2 + 1));
	}
	if (!close_both(w, fdu, fdr) || r > 0)
		return;
	if (check_path(w, rel))
		w->st->done[OP_WRITE]++;
}

static void op_mmap(struct wctx *w)
{
	char rel[PATH_MAX];
	void *pu = MAP_FAILED, *pr = MAP_FAILED;
	struct stat st;
	size_t size, off, len;
	int fdu, fdr;

	if (!pick_path(w, P_FILE, rel))
		return;
	oplog(w, "mmap-write %s: open O_RDWR", rel);
	if (!open_both(w, rel, O_RDWR, &fdu, &fdr))
		return;
	if (fdu < 0) {
		w->st->erred[OP_MMAP]++;
		return;
	}
	if (fstat(fdr, &st) || !S_ISREG(st.st_mode))
		goto out;
	size = st.st_size;
	if (!size || size > (8 << 20) || !rnd(w, 4)) {
		size = 1 + rnd(w, 65536);
		oplog(w, "mmap %s: ftruncate %zu", rel, size);
		if (BOTH(w, "ftruncate", ftruncate(fdu, size), ftruncate(fdr, size)))
			goto out;
	}
	off = rnd(w, size);
	len = 1 + rnd(w, size - off < 32768 ? size - off : 32768);
	oplog(w, "mmap-write %s size %zu off %zu len %zu", rel, size, off, len);
	pu = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fdu, 0);
	pr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fdr, 0);
	if (!agree(w, "mmap", pu == MAP_FAILED ? -1 : 0, errno,
		   pr == MAP_FAILED ? -1 : 0, errno) || pu == MAP_FAILED)
		goto out;
	rnd_fill(w, w->buf, len);
	memcpy((char *)pu + off, w->buf, len);
	memcpy((char *)pr + off, w->buf, len);
	if (rnd(w, 2) && BOTH(w, "msync", msync(pu, size, MS_SYNC),
			      msync(pr, size, MS_SYNC)))
		goto out;
	if (munmap(pu, size) || munmap(pr, size)) {
		pu = pr = MAP_FAILED;
		wfail(w, "munmap: %s", strerror(errno));
		goto out;
	}
	pu = pr = MAP_FAILED;
	if (!close_both(w, fdu, fdr))
		return;
	if (check_path(w, rel))
		w->st->done[OP_MMAP]++;
	return;
out:
	if (pu != MAP_FAILED)
		munmap(pu, size);
	if (pr != MAP_FAILED)
		munmap(pr, size);
	close(fdu);
	close(fdr);
}

static void op_truncate(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	off_t size = rnd(w, 8) ? rnd(w, 131072) : rnd(w, 4 << 20);
	int r;

	if (!pick_path(w, P_FILE, rel))
		return;
	oplog(w, "truncate %s %lld", rel, (long long)size);
	r = BOTH(w, "truncate", truncate(upath(up, rel), size),
		 truncate(rpath(rp, rel), size));
	if (r <= 0 && check_path(w, rel))
		(r ? w->st->erred : w->st->done)[OP_TRUNCATE]++;
}

static bool is_dir_ref(const char *rel)
{
	char rp[PATH_MAX];
	struct stat st;

	return !lstat(rpath(rp, rel), &st) && S_ISDIR(st.st_mode);
}

/* Would moving @src under the parent of @dst nest too deep? */
static bool too_deep(const char *src, const char *dst)
{
	char rp[PATH_MAX];

	if (!is_dir_ref(src))
		return depth_of(dst) > MAX_DEPTH;
	return depth_of(dst) - 1 + subtree_depth(rpath(rp, src)) > MAX_DEPTH;
}

static void op_rename(struct wctx *w)
{
	char src[PATH_MAX], dst[PATH_MAX], parent[PATH_MAX];
	char us[PATH_MAX], ud[PATH_MAX], rs[PATH_MAX], rd[PATH_MAX];
	unsigned int r = rnd(w, 100);
	unsigned int flags = r < 70 ? 0 : r < 85 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
	int ret;

	if (!pick_path(w, P_ANY, src))
		return;
	if ((flags != RENAME_EXCHANGE && rnd(w, 2)) || !pick_path(w, P_ANY, dst)) {
		if (!pick_path(w, P_DIR, parent))
			return;
		new_name(w, parent, false, dst);
	}
	if (too_deep(src, dst) || (flags == RENAME_EXCHANGE && too_deep(dst, src)))
		return;
	oplog(w, "rename %s -> %s flags %u", src, dst, flags);
	ret = BOTH(w, "rename", renameat2(AT_FDCWD, upath(us, src), AT_FDCWD, upath(ud, dst), flags),
		   renameat2(AT_FDCWD, rpath(rs, src), AT_FDCWD, rpath(rd, dst), flags));
	if (ret <= 0 && check_path(w, src) && check_path(w, dst))
		(ret ? w->st->erred : w->st->done)[OP_RENAME]++;
}

static void op_link(struct wctx *w)
{
	char src[PATH_MAX], dst[PATH_MAX], parent[PATH_MAX];
	char us[PATH_MAX], ud[PATH_MAX], rs[PATH_MAX], rd[PATH_MAX];
	int ret;

	if (!pick_path(w, P_FILE, src) || !pick_path(w, P_DIR, parent))
		return;
	if (rnd(w, 6) || !pick_path(w, P_ANY, dst))
		new_name(w, parent, true, dst);
	if (depth_of(dst) > MAX_DEPTH)
		return;
	oplog(w, "link %s -> %s", src, dst);
	ret = BOTH(w, "link", link(upath(us, src), upath(ud, dst)),
		   link(rpath(rs, src), rpath(rd, dst)));
	if (ret <= 0 && check_path(w, src) && check_path(w, dst))
		(ret ? w->st->erred : w->st->done)[OP_LINK]++;
}

static void op_unlink(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	int ret;

	if (!pick_path(w, rnd(w, 8) ? P_FILE : P_ANY, rel))
		return;
	oplog(w, "unlink %s", rel);
	ret = BOTH(w, "unlink", unlink(upath(up, rel)), unlink(rpath(rp, rel)));
	if (ret <= 0 && check_path(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_UNLINK]++;
}

static void op_mkdir(struct wctx *w)
{
	char rel[PATH_MAX], parent[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	mode_t mode = dir_modes[rnd(w, ARRAY_LEN(dir_modes))];
	int ret;

	if (!pick_path(w, P_DIR, parent))
		return;
	if (depth_of(parent) >= MAX_DEPTH)
		fmt(parent, sizeof(parent), "%s", w->own);
	new_name(w, parent, false, rel);
	oplog(w, "mkdir %s 0%o", rel, mode);
	ret = BOTH(w, "mkdir", mkdir(upath(up, rel), mode), mkdir(rpath(rp, rel), mode));
	if (ret <= 0 && check_path(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_MKDIR]++;
}

static void op_rmdir(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	int ret;

	if (!pick_path(w, rnd(w, 6) ? P_DIR : P_ANY, rel) || is_anchor(w, rel))
		return;
	oplog(w, "rmdir %s", rel);
	ret = BOTH(w, "rmdir", rmdir(upath(up, rel)), rmdir(rpath(rp, rel)));
	if (ret <= 0 && check_path(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_RMDIR]++;
}

/* rm -r, one unlink/rmdir at a time, each compared. */
static bool rmtree(struct wctx *w, const char *rel)
{
	char up[PATH_MAX], rp[PATH_MAX], sub[PATH_MAX];
	struct dent *du, *dr;
	ssize_t nu, nr, i;
	bool ok = true;

	if (!is_dir_ref(rel)) {
		oplog(w, "rm-r: unlink %s", rel);
		return BOTH(w, "unlink", unlink(upath(up, rel)), unlink(rpath(rp, rel))) <= 0;
	}
	nu = list_dir(upath(up, rel), NULL, &du);
	nr = list_dir(rpath(rp, rel), NULL, &dr);
	if (nu != nr) {
		wfail(w, "rm-r: %s has %zd entries in union, %zd in reference", rel, nu, nr);
		ok = false;
	}
	for (i = 0; ok && i < nr; i++) {
		fmt(sub, sizeof(sub), "%s/%s", rel, dr[i].name);
		ok = rmtree(w, sub);
	}
	if (nu > 0)
		free_dents(du, nu);
	if (nr > 0)
		free_dents(dr, nr);
	if (!ok)
		return false;
	oplog(w, "rm-r: rmdir %s", rel);
	return BOTH(w, "rmdir", rmdir(upath(up, rel)), rmdir(rpath(rp, rel))) <= 0;
}

static void op_rmtree(struct wctx *w)
{
	char rel[PATH_MAX];

	if (!pick_path(w, P_DIR, rel) || is_anchor(w, rel))
		return;
	if (rmtree(w, rel) && check_path(w, rel))
		w->st->done[OP_RMTREE]++;
}

static bool check_xattrs(struct wctx *w, const char *rel)
{
	char up[PATH_MAX], rp[PATH_MAX], msg[512];

	if (same_xattrs(upath(up, rel), rpath(rp, rel), msg, sizeof(msg)))
		return true;
	wfail(w, "%s: %s", rel, msg);
	return false;
}

static void op_setxattr(struct wctx *w)
{
	static const int xflags[] = { 0, 0, XATTR_CREATE, XATTR_REPLACE };
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX], name[32];
	size_t len = rnd(w, 4) ? rnd(w, 64) : rnd(w, 3000);
	int flags = xflags[rnd(w, 4)], ret;

	if (!pick_path(w, P_ANY, rel))
		return;
	fmt(name, sizeof(name), "user.%s%u", rnd(w, 2) ? "x" : "g", rnd(w, 4));
	rnd_fill(w, w->buf, len);
	oplog(w, "setxattr %s %s len %zu flags %d", rel, name, len, flags);
	ret = BOTH(w, "lsetxattr", lsetxattr(upath(up, rel), name, w->buf, len, flags),
		   lsetxattr(rpath(rp, rel), name, w->buf, len, flags));
	if (ret <= 0 && check_path(w, rel) && check_xattrs(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_SETXATTR]++;
}

static void op_rmxattr(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX], name[32];
	int ret;

	if (!pick_path(w, P_ANY, rel))
		return;
	fmt(name, sizeof(name), "user.%s%u", rnd(w, 2) ? "x" : "g", rnd(w, 4));
	oplog(w, "removexattr %s %s", rel, name);
	ret = BOTH(w, "lremovexattr", lremovexattr(upath(up, rel), name),
		   lremovexattr(rpath(rp, rel), name));
	if (ret <= 0 && check_xattrs(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_RMXATTR]++;
}

/* Compare the listings of one directory; other workers' names ignored. */
static void op_readdir(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	const char *pfx;
	struct dent *du, *dr;
	ssize_t nu, nr, i;
	bool ok = true;

	if (!pick_path(w, P_DIR, rel))
		return;
	pfx = anchor_prefix(w, rel);
	oplog(w, "readdir %s", rel);
	nu = list_dir(upath(up, rel), pfx, &du);
	nr = list_dir(rpath(rp, rel), pfx, &dr);
	if (!agree(w, "readdir", nu, nu < 0 ? (int)-nu : 0, nr, nr < 0 ? (int)-nr : 0))
		ok = false;
	for (i = 0; ok && i < nr; i++) {
		if (strcmp(du[i].name, dr[i].name)) {
			wfail(w, "readdir %s: entry %zd is '%s' in union, '%s' in reference",
			      rel, i, du[i].name, dr[i].name);
			ok = false;
		} else if (du[i].type != DT_UNKNOWN && du[i].type != dr[i].type) {
			wfail(w, "readdir %s: '%s' has d_type %u in union, %u in reference",
			      rel, du[i].name, du[i].type, dr[i].type);
			ok = false;
		}
	}
	if (nu > 0)
		free_dents(du, nu);
	if (nr > 0)
		free_dents(dr, nr);
	if (ok)
		(nr < 0 ? w->st->erred : w->st->done)[OP_READDIR]++;
}

static void op_fsync(struct wctx *w)
{
	char rel[PATH_MAX];
	unsigned int how = rnd(w, 4);
	int fdu, fdr, ret;

	if (!pick_path(w, P_ANY, rel))
		return;
	oplog(w, "fsync %s how %u", rel, how);
	if (!open_both(w, rel, O_RDONLY, &fdu, &fdr))
		return;
	if (fdu < 0) {
		w->st->erred[OP_FSYNC]++;
		return;
	}
	if (how == 0)
		ret = BOTH(w, "fdatasync", fdatasync(fdu), fdatasync(fdr));
	else if (how == 1)
		ret = BOTH(w, "syncfs", syncfs(fdu), syncfs(fdr));
	else
		ret = BOTH(w, "fsync", fsync(fdu), fsync(fdr));
	if (close_both(w, fdu, fdr) && ret <= 0)
		(ret ? w->st->erred : w->st->done)[OP_FSYNC]++;
}

static void op_read(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX], lu[PATH_MAX], lr[PATH_MAX];
	struct stat st;
	int fdu, fdr;
	bool ok;

	if (!pick_path(w, rnd(w, 4) ? P_FILE : P_ANY, rel))
		return;
	oplog(w, "read %s", rel);
	if (!check_path(w, rel) || !check_xattrs(w, rel))
		return;
	if (!lstat(rpath(rp, rel), &st) && S_ISLNK(st.st_mode)) {
		ssize_t nu = readlink(upath(up, rel), lu, sizeof(lu) - 1);
		ssize_t nr = readlink(rp, lr, sizeof(lr) - 1);

		if (nu != nr || (nr > 0 && memcmp(lu, lr, nr))) {
			wfail(w, "readlink %s differs", rel);
			return;
		}
	}
	if (!open_both(w, rel, O_RDONLY, &fdu, &fdr))
		return;
	if (fdu < 0) {
		w->st->erred[OP_READ]++;
		return;
	}
	if (!fstat(fdr, &st) && S_ISREG(st.st_mode) && st.st_size && rnd(w, 3) == 0) {
		/* through a shared mapping of the union file */
		void *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fdu, 0);
		ssize_t n;

		ok = p != MAP_FAILED;
		if (!ok)
			wfail(w, "mmap %s: %s", rel, strerror(errno));
		if (ok && st.st_size <= BUF_SIZE) {
			n = pread(fdr, w->buf2, st.st_size, 0);
			if (n != st.st_size || memcmp(p, w->buf2, n)) {
				wfail(w, "%s: mapped contents differ from the reference", rel);
				ok = false;
			}
		}
		if (p != MAP_FAILED)
			munmap(p, st.st_size);
	} else {
		ok = same_content(w, fdu, fdr, rel);
	}
	if (close_both(w, fdu, fdr) && ok)
		w->st->done[OP_READ]++;
}

static void op_symlink(struct wctx *w)
{
	char rel[PATH_MAX], parent[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	char target[1200];
	unsigned int r = rnd(w, 10);
	int ret;

	if (!pick_path(w, P_DIR, parent))
		return;
	new_name(w, parent, true, rel);
	if (r < 7) {
		fmt(target, sizeof(target), "%s%se%u", r < 5 ? "" : "../",
			 w->prefix, rnd(w, 16));
	} else if (r < 9) {
		fmt(target, sizeof(target), "/nonexistent/%u", rnd(w, 100));
	} else {
		memset(target, 'T', 1000);
		target[1000] = '\0';
	}
	oplog(w, "symlink %s -> %.40s", rel, target);
	ret = BOTH(w, "symlink", symlink(target, upath(up, rel)),
		   symlink(target, rpath(rp, rel)));
	if (ret <= 0 && check_path(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_SYMLINK]++;
}

static void op_chmod(struct wctx *w)
{
	char rel[PATH_MAX], up[PATH_MAX], rp[PATH_MAX];
	mode_t mode = 0400 | rnd(w, 01000);
	int ret;

	if (!pick_path(w, P_ANY, rel))
		return;
	oplog(w, "chmod %s 0%o", rel, mode);
	ret = BOTH(w, "chmod", chmod(upath(up, rel), mode), chmod(rpath(rp, rel), mode));
	if (ret <= 0 && check_path(w, rel))
		(ret ? w->st->erred : w->st->done)[OP_CHMOD]++;
}

static void (*const op_fn[NR_OPS])(struct wctx *) = {
	[OP_CREATE] = op_create, [OP_WRITE] = op_write, [OP_MMAP] = op_mmap,
	[OP_TRUNCATE] = op_truncate, [OP_RENAME] = op_rename,
	[OP_LINK] = op_link, [OP_UNLINK] = op_unlink, [OP_MKDIR] = op_mkdir,
	[OP_RMDIR] = op_rmdir, [OP_RMTREE] = op_rmtree,
	[OP_SETXATTR] = op_setxattr, [OP_RMXATTR] = op_rmxattr,
	[OP_READDIR] = op_readdir, [OP_FSYNC] = op_fsync, [OP_READ] = op_read,
	[OP_SYMLINK] = op_symlink, [OP_CHMOD] = op_chmod,
};

static void wctx_init(struct wctx *w, int id)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->rng = seed * 0x9E3779B97F4A7C15ULL + id + 1;
	fmt(w->own, sizeof(w->own), "w%02d", id);
	fmt(w->prefix, sizeof(w->prefix), "w%02d.", id);
	w->buf = malloc(BUF_SIZE);
	w->buf2 = malloc(BUF_SIZE);
	if (!w->buf || !w->buf2)
		die("out of memory");
}

/*
 * How full the filesystem of the reference (and of the layers) is, in
 * percent.  Long runs must not fill it: past SHRINK_HIGH the workers only
 * remove and shrink until it is below SHRINK_LOW.
 */
#define SHRINK_HIGH	50
#define SHRINK_LOW	35

static int fs_used_pct(void)
{
	struct statvfs sv;

	if (statvfs(ref, &sv) || !sv.f_blocks)
		return 0;
	return (int)(100 - sv.f_bavail * 100 / sv.f_blocks);
}

static const unsigned int shrink_ops = 1U << OP_UNLINK | 1U << OP_RMTREE |
	1U << OP_RMDIR | 1U << OP_READ | 1U << OP_READDIR;

static void worker(int id, double deadline)
{
	unsigned int total = 0, stotal = 0, i, shrinks = 0;
	bool shrinking = false;
	struct wctx w;

	wctx_init(&w, id);
	w.rng ^= 0x5DEECE66DULL;	/* not the generator's sequence */
	w.st = &sh->ws[id];
	for (i = 0; i < NR_OPS; i++) {
		total += excluded & (1U << i) ? 0 : ops[i].weight;
		stotal += shrink_ops & (1U << i) ? ops[i].weight : 0;
	}
	while (total && now() < deadline && !w.diverged) {
		unsigned int skip = excluded, r;

		if (w.nops % 256 == 0) {
			int used = fs_used_pct();

			if (!shrinking && used >= SHRINK_HIGH && !shrinks++)
				say("%s: filesystem %d%% full: only removing for a while (said once)",
				    w.own, used);
			shrinking = used >= (shrinking ? SHRINK_LOW : SHRINK_HIGH);
		}
		if (shrinking)
			skip = ~shrink_ops | excluded;
		r = rnd(&w, shrinking ? stotal : total);
		for (i = 0; skip & (1U << i) || r >= ops[i].weight; i++)
			if (!(skip & (1U << i)))
				r -= ops[i].weight;
		w.nops++;
		fmt(w.log[w.nops % LOG_RING], LOG_LEN, "#%lu %s (nothing to do)",
			 w.nops, ops[i].name);
		op_fn[i](&w);
	}
	exit(w.nfails ? 1 : 0);
}

/* ---- processes ------------------------------------------------------------------ */

static void dump_stack(pid_t pid)
{
	char path[64], line[256];
	FILE *f;

	fmt(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	say("  kernel stack of %d:", pid);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		say("    %s", line);
	}
	fclose(f);
}

/*
 * Start @n processes running @fn(i, deadline) and wait for them; a
 * process still running GRACE_SECS after the deadline is hung.  Returns
 * the number of processes that failed.
 */
static int run_procs(const char *phase, int n, void (*fn)(int, double),
		     double secs)
{
	double start = now(), deadline = start + secs, next = start + 30;
	pid_t pids[MAX_PROCS];
	int i, left = n, bad = 0, status;

	fflush(stdout);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (!pids[i])
			fn(i, deadline);	/* exits */
	}
	while (left) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			for (i = 0; i < n && pids[i] != pid; i++)
				;
			if (i < n) {
				pids[i] = 0;
				left--;
				if (!WIFEXITED(status) || WEXITSTATUS(status)) {
					bad++;
					if (WIFSIGNALED(status))
						say("FAIL %s: process %d killed by signal %d",
						    phase, i, WTERMSIG(status));
				}
			}
			continue;
		}
		usleep(200000);
		if (now() >= next) {
			unsigned long total = 0, j, k;

			for (j = 0; j < (unsigned long)nprocs; j++)
				for (k = 0; k < NR_OPS; k++)
					total += sh->ws[j].done[k] + sh->ws[j].erred[k];
			if (fn == worker)
				say("%s: %.0f/%.0f s (%lu operations so far)", phase,
				    now() - start, secs, total);
			else
				say("%s: %.0f/%.0f s", phase, now() - start, secs);
			next += 30;
		}
		if (now() > deadline + GRACE_SECS) {
			say("FAIL %s: %d process(es) still running %d s after the deadline",
			    phase, left, GRACE_SECS);
			for (i = 0; i < n; i++) {
				if (!pids[i])
					continue;
				dump_stack(pids[i]);
				kill(pids[i], SIGKILL);
			}
			/* In D state they may never go: do not wait for them */
			hung = true;
			bad += left;
			break;
		}
	}
	return bad;
}

/* ---- rename storm --------------------------------------------------------------- */

static bool rs_check_token(int k, const char *path, char *msg, size_t msgsz)
{
	unsigned char want[4096], got[4096];
	char name[16], xp[PATH_MAX], xname[32];
	ssize_t n;
	size_t len;
	int j;

	rs_token_name(k, name, sizeof(name));
	if (k < RS_FILES) {
		len = rs_content(k, name, want);
		n = read_file(path, (char *)got, sizeof(got));
		if (n < 0 && n != -ENOENT) {
			fmt(msg, msgsz, "read %s: %s", path, ename(-n));
			return false;
		}
		if (n >= 0 && ((size_t)n != len || memcmp(want, got, len))) {
			fmt(msg, msgsz, "%s: wrong contents (%zd bytes, want %zu)",
				 path, n, len);
			return false;
		}
		return true;
	}
	for (j = 0; j < 3; j++) {
		fmt(xname, sizeof(xname), "%s/x%d", name, j);
		fmt(xp, sizeof(xp), "%s/x%d", path, j);
		len = rs_content(k, xname, want);
		n = read_file(xp, (char *)got, sizeof(got));
		if (n < 0 && n != -ENOENT) {
			fmt(msg, msgsz, "read %s: %s", xp, ename(-n));
			return false;
		}
		if (n >= 0 && ((size_t)n != len || memcmp(want, got, len))) {
			fmt(msg, msgsz, "%s: wrong contents (%zd bytes, want %zu)",
				 xp, n, len);
			return false;
		}
	}
	return true;
}

static void rs_proc(int id, double deadline)
{
	struct wctx w;
	char src[PATH_MAX], dst[PATH_MAX], name[16], msg[512];
	unsigned long renames = 0, enoent = 0, reads = 0;

	wctx_init(&w, id);
	w.rng ^= 0xA5A5A5A5ULL;
	while (now() < deadline && !w.logged) {
		int k = rnd(&w, RS_TOKENS), from = sh->rs_hint[k];
		int to = rnd(&w, RS_DIRS);

		rs_token_name(k, name, sizeof(name));
		fmt(src, sizeof(src), "%s/contend/rs/r%d/%s", mnt, from, name);
		fmt(dst, sizeof(dst), "%s/contend/rs/r%d/%s", mnt, to, name);
		w.nops++;
		if (rnd(&w, 10) == 0) {
			oplog(&w, "check %s", src);
			if (!rs_check_token(k, src, msg, sizeof(msg)))
				wfail(&w, "rename storm: %s", msg);
			reads++;
			continue;
		}
		oplog(&w, "rename r%d/%s -> r%d/%s", from, name, to, name);
		if (!rename(src, dst)) {
			sh->rs_hint[k] = to;
			renames++;
		} else if (errno == ENOENT) {
			enoent++;
		} else {
			wfail(&w, "rename storm: rename r%d/%s -> r%d/%s: %s",
			      from, name, to, name, ename(errno));
		}
	}
	__atomic_fetch_add(&sh->rs_renames, renames, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->rs_enoent, enoent, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->rs_reads, reads, __ATOMIC_RELAXED);
	exit(w.logged ? 1 : 0);
}

/*
 * Every token in exactly one rN, intact, nothing else there; then move
 * the reference's tokens to where the union has them.  Returns errors.
 */
static int rs_verify(bool update_ref)
{
	int where[RS_TOKENS], errors = 0, j, k;
	char msg[512], name[16];

	for (k = 0; k < RS_TOKENS; k++)
		where[k] = -1;
	for (j = 0; j < RS_DIRS; j++) {
		char dir[PATH_MAX];
		struct dent *d;
		ssize_t n, i;

		fmt(dir, sizeof(dir), "%s/contend/rs/r%d", mnt, j);
		n = list_dir(dir, NULL, &d);
		if (n < 0) {
			say("FAIL rename storm: readdir %s: %s", dir, ename(-n));
			errors++;
			continue;
		}
		for (i = 0; i < n; i++) {
			int num = -1;
			char kind = 0, extra;

			if (sscanf(d[i].name, "%c%d%c", &kind, &num, &extra) != 2 ||
			    num < 0 || (kind != 'f' && kind != 'd') ||
			    (kind == 'f' && num >= RS_FILES) ||
			    (kind == 'd' && num >= RS_DIRTOKS)) {
				say("FAIL rename storm: unexpected r%d/%s", j, d[i].name);
				errors++;
				continue;
			}
			k = kind == 'f' ? num : RS_FILES + num;
			if (where[k] >= 0) {
				say("FAIL rename storm: %s in r%d and r%d", d[i].name,
				    where[k], j);
				errors++;
			}
			where[k] = j;
		}
		free_dents(d, n);
	}
	for (k = 0; k < RS_TOKENS; k++) {
		char path[PATH_MAX], rsrc[PATH_MAX], rdst[PATH_MAX];

		rs_token_name(k, name, sizeof(name));
		if (where[k] < 0) {
			say("FAIL rename storm: token %s is gone", name);
			errors++;
			continue;
		}
		fmt(path, sizeof(path), "%s/contend/rs/r%d/%s", mnt, where[k], name);
		if (!rs_check_token(k, path, msg, sizeof(msg))) {
			say("FAIL rename storm: %s", msg);
			errors++;
		} else if (k >= RS_FILES && lstat_err(pathf("%s/x2", path))) {
			say("FAIL rename storm: %s/x2 is gone", path);
			errors++;
		}
		if (!update_ref)
			continue;
		for (j = 0; j < RS_DIRS; j++) {
			fmt(rsrc, sizeof(rsrc), "%s/contend/rs/r%d/%s", ref, j, name);
			if (!lstat_err(rsrc))
				break;
		}
		fmt(rdst, sizeof(rdst), "%s/contend/rs/r%d/%s", ref, where[k], name);
		if (j < RS_DIRS && rename(rsrc, rdst))
			die("rename %s %s", rsrc, rdst);
	}
	return errors;
}

/* ---- readdir race ----------------------------------------------------------------- */

static int rd_writers(void)
{
	return nprocs > 1 ? nprocs / 2 : 1;
}

static void rd_name(int p, int i, char *name, size_t size)
{
	if (i < RD_TRANS)
		fmt(name, size, "t%d_%d", p, i);
	else if (i < RD_TRANS + RD_NEW)
		fmt(name, size, "n%d_%d", p, i - RD_TRANS);
	else
		fmt(name, size, "dd%d_%d", p, i - RD_TRANS - RD_NEW);
}

static void rd_writer(struct wctx *w, int p, double deadline)
{
	struct rd_writer *s = &sh->rd[p];
	char name[32], path[PATH_MAX], data[64];
	unsigned long changes = 0;

	while (now() < deadline && !w->logged) {
		int i = rnd(w, RD_NAMES);
		bool dir = i >= RD_TRANS + RD_NEW;
		int ret, len;

		rd_name(p, i, name, sizeof(name));
		fmt(path, sizeof(path), "%s/contend/rd/%s", mnt, name);
		w->nops++;
		if (s->present[i]) {
			oplog(w, "remove %s", name);
			ret = dir ? rmdir(path) : unlink(path);
		} else if (dir) {
			oplog(w, "mkdir %s", name);
			ret = mkdir(path, 0755);
		} else {
			len = snprintf(data, sizeof(data), "%s:%u", name, s->gen[i] + 1);
			oplog(w, "create %s", name);
			ret = mkfile_data(path, data, len, 0644);
			if (ret) {
				errno = -ret;
				ret = -1;
			}
		}
		if (ret) {
			wfail(w, "readdir race: %s %s: %s",
			      s->present[i] ? "remove" : "create", name, ename(errno));
			break;
		}
		if (!s->present[i] && !dir)
			s->gen[i]++;
		s->present[i] = !s->present[i];
		changes++;
	}
	__atomic_fetch_add(&sh->rd_changes, changes, __ATOMIC_RELAXED);
}

static bool rd_known(const char *name)
{
	int p, i, n, len;

	if (sscanf(name, "s%d%n", &i, &len) == 1 && !name[len])
		return i >= 0 && i < RD_STABLE;
	if ((sscanf(name, "t%d_%d%n", &p, &i, &len) == 2 ||
	     sscanf(name, "n%d_%d%n", &p, &i, &len) == 2 ||
	     sscanf(name, "dd%d_%d%n", &p, &i, &len) == 2) && !name[len]) {
		n = name[0] == 't' ? RD_TRANS : name[0] == 'n' ? RD_NEW : RD_DIRS;
		return p >= 0 && p < nprocs && i >= 0 && i < n;
	}
	return false;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void rd_reader(struct wctx *w, double deadline)
{
	char dir[PATH_MAX], buf[512], seen_names[512][16];
	unsigned long passes = 0, entries = 0;

	fmt(dir, sizeof(dir), "%s/contend/rd", mnt);
	while (now() < deadline && !w->logged) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int nseen = 0, stable = 0, i;
		size_t bufsz = 64 + rnd(w, sizeof(buf) - 64);
		long n;

		w->nops++;
		oplog(w, "pass with %zu byte buffer", bufsz);
		if (fd < 0) {
			wfail(w, "readdir race: open: %s", ename(errno));
			break;
		}
		while ((n = syscall(SYS_getdents64, fd, buf, bufsz)) > 0) {
			long off;

			for (off = 0; off < n;) {
				struct linux_dirent64 *de = (void *)(buf + off);
				const char *name = de->d_name;

				off += de->d_reclen;
				if (!strcmp(name, ".") || !strcmp(name, ".."))
					continue;
				entries++;
				if (!rd_known(name) || strlen(name) >= 16) {
					wfail(w, "readdir race: unexpected name '%s'", name);
					continue;
				}
				if (de->d_type == DT_CHR)
					wfail(w, "readdir race: '%s' shown as a character device (whiteout?)",
					      name);
				for (i = 0; i < nseen; i++)
					if (!strcmp(seen_names[i], name))
						break;
				if (i < nseen)
					wfail(w, "readdir race: '%s' twice in one pass", name);
				else if (nseen < (int)ARRAY_LEN(seen_names))
					strcpy(seen_names[nseen++], name);
				stable += name[0] == 's';
				if (!rnd(w, 8)) {
					struct stat st;

					if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) &&
					    errno != ENOENT)
						wfail(w, "readdir race: stat %s: %s", name,
						      ename(errno));
				}
			}
		}
		if (n < 0)
			wfail(w, "readdir race: getdents64: %s", ename(errno));
		else if (stable != RD_STABLE)
			wfail(w, "readdir race: %d of %d stable names in a pass",
			      stable, RD_STABLE);
		close(fd);
		passes++;
	}
	__atomic_fetch_add(&sh->rd_passes, passes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->rd_entries, entries, __ATOMIC_RELAXED);
}

static void rd_proc(int id, double deadline)
{
	struct wctx w;

	wctx_init(&w, id);
	w.rng ^= 0x3C3C3C3CULL;
	if (id < rd_writers())
		rd_writer(&w, id, deadline);
	else
		rd_reader(&w, deadline);
	exit(w.logged ? 1 : 0);
}

/* The writers' final state in the reference. */
static void rd_update_ref(void)
{
	char name[32], rp[PATH_MAX], data[64];
	int p, i;

	for (p = 0; p < rd_writers(); p++) {
		for (i = 0; i < RD_NAMES; i++) {
			rd_name(p, i, name, sizeof(name));
			fmt(rp, sizeof(rp), "%s/contend/rd/%s", ref, name);
			rm_rf_path(rp);
			if (!sh->rd[p].present[i])
				continue;
			if (i >= RD_TRANS + RD_NEW) {
				if (mkdir(rp, 0755))
					die("mkdir %s", rp);
			} else if (sh->rd[p].gen[i]) {
				int len = snprintf(data, sizeof(data), "%s:%u", name,
						   sh->rd[p].gen[i]);

				put_file(rp, data, len, 0644);
			} else {
				/* the lower file, never touched */
				fmt(data, sizeof(data), "contend/rd/%s", name);
				put_file(rp, data, strlen(data), 0644);
			}
		}
	}
}

/* ---- comparing whole trees ----------------------------------------------------------- */

struct inopair {
	ino_t r, u;
	char *rel;
};

struct cmp {
	const char *what;
	int errors;
	struct inopair *pairs;
	size_t npairs, cap;
	dev_t udev;
	unsigned long files, dirs, bytes;
	unsigned char *a, *b;
};

static void cmp_err(struct cmp *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void cmp_err(struct cmp *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->errors++ >= MAX_REPORT) {
		if (c->errors == MAX_REPORT + 1)
			say("  (more differences not shown)");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("FAIL %s: %s", c->what, msg);
}

static void cmp_content(struct cmp *c, const char *up, const char *rp,
			const char *rel)
{
	int fu = open(up, O_RDONLY | O_CLOEXEC), fr = open(rp, O_RDONLY | O_CLOEXEC);
	off_t off = 0;

	if (fu < 0 || fr < 0) {
		cmp_err(c, "%s: open: union %s, reference %s", rel,
			fu < 0 ? strerror(errno) : "ok", fr < 0 ? "failed" : "ok");
		goto out;
	}
	for (;;) {
		ssize_t nu = read(fu, c->a, 1 << 20), nr = read(fr, c->b, 1 << 20);

		if (nu < 0 || nu != nr) {
			cmp_err(c, "%s: read at %lld: union %zd (%s), reference %zd", rel,
				(long long)off, nu, nu < 0 ? strerror(errno) : "ok", nr);
			break;
		}
		if (!nu)
			break;
		if (memcmp(c->a, c->b, nu)) {
			ssize_t i;

			for (i = 0; c->a[i] == c->b[i]; i++)
				;
			cmp_err(c, "%s: contents differ at offset %lld", rel,
				(long long)(off + i));
			break;
		}
		off += nu;
		c->bytes += nu;
	}
out:
	if (fu >= 0)
		close(fu);
	if (fr >= 0)
		close(fr);
}

static void cmp_dir(struct cmp *c, const char *rel)
{
	char up[PATH_MAX], rp[PATH_MAX], sub[PATH_MAX];
	struct dent *du = NULL, *dr = NULL;
	ssize_t nu, nr, i = 0, j = 0;

	fmt(up, sizeof(up), "%s%s%s", mnt, *rel ? "/" : "", rel);
	fmt(rp, sizeof(rp), "%s%s%s", ref, *rel ? "/" : "", rel);
	nu = list_dir(up, NULL, &du);
	nr = list_dir(rp, NULL, &dr);
	if (nu < 0 || nr < 0) {
		cmp_err(c, "readdir /%s: union %s, reference %s", rel,
			ename(nu < 0 ? -nu : 0), ename(nr < 0 ? -nr : 0));
		goto out;
	}
	c->dirs++;
	for (i = 1; i < nu; i++)
		if (!strcmp(du[i - 1].name, du[i].name))
			cmp_err(c, "/%s/%s listed twice", rel, du[i].name);
	for (i = 0; i < nu || j < nr;) {
		int cmp = i >= nu ? 1 : j >= nr ? -1 : strcmp(du[i].name, dr[j].name);
		char urel[PATH_MAX], msg[512];
		struct stat su, sr;

		if (cmp < 0) {
			cmp_err(c, "/%s%s%s: in union only", rel, *rel ? "/" : "", du[i].name);
			i++;
			continue;
		}
		if (cmp > 0) {
			cmp_err(c, "/%s%s%s: missing in union", rel, *rel ? "/" : "", dr[j].name);
			j++;
			continue;
		}
		fmt(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", dr[j].name);
		fmt(urel, sizeof(urel), "%s/%s", mnt, sub);
		rpath(rp, sub);
		if (lstat(urel, &su)) {
			cmp_err(c, "/%s: lstat in union: %s", sub, strerror(errno));
			goto next;
		}
		if (lstat(rp, &sr))
			die("lstat %s", rp);
		if ((su.st_mode & S_IFMT) != (sr.st_mode & S_IFMT)) {
			cmp_err(c, "/%s: type 0%o in union, 0%o in reference", sub,
				su.st_mode & S_IFMT, sr.st_mode & S_IFMT);
			goto next;
		}
		if (du[i].type != DT_UNKNOWN && du[i].type != dr[j].type)
			cmp_err(c, "/%s: d_type %u in union, %u in reference", sub,
				du[i].type, dr[j].type);
		if (su.st_dev != c->udev)
			cmp_err(c, "/%s: st_dev %lx, the union root's is %lx", sub,
				(unsigned long)su.st_dev, (unsigned long)c->udev);
		if (!S_ISLNK(sr.st_mode) && su.st_mode != sr.st_mode)
			cmp_err(c, "/%s: mode 0%o in union, 0%o in reference", sub,
				su.st_mode, sr.st_mode);
		if (!same_xattrs(urel, rp, msg, sizeof(msg)))
			cmp_err(c, "/%s: %s", sub, msg);
		if (S_ISDIR(sr.st_mode)) {
			cmp_dir(c, sub);
			goto next;
		}
		if (S_ISREG(sr.st_mode)) {
			c->files++;
			if (su.st_size != sr.st_size)
				cmp_err(c, "/%s: size %lld in union, %lld in reference", sub,
					(long long)su.st_size, (long long)sr.st_size);
			else
				cmp_content(c, urel, rp, sub);
			if (su.st_nlink != sr.st_nlink)
				cmp_err(c, "/%s: nlink %lu in union, %lu in reference", sub,
					(unsigned long)su.st_nlink, (unsigned long)sr.st_nlink);
		} else if (S_ISLNK(sr.st_mode)) {
			char lu[PATH_MAX], lr[PATH_MAX];
			ssize_t a = readlink(urel, lu, sizeof(lu)), b = readlink(rp, lr, sizeof(lr));

			if (a != b || (b > 0 && memcmp(lu, lr, b)))
				cmp_err(c, "/%s: symlink target differs", sub);
		}
		if (c->npairs == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 1024;
			c->pairs = realloc(c->pairs, c->cap * sizeof(*c->pairs));
			if (!c->pairs)
				die("out of memory");
		}
		c->pairs[c->npairs].r = sr.st_ino;
		c->pairs[c->npairs].u = su.st_ino;
		c->pairs[c->npairs].rel = strdup(sub);
		c->npairs++;
next:
		i++;
		j++;
	}
out:
	if (nu > 0)
		free_dents(du, nu);
	if (nr > 0)
		free_dents(dr, nr);
}

static int pair_by_r(const void *a, const void *b)
{
	const struct inopair *x = a, *y = b;

	return x->r < y->r ? -1 : x->r > y->r;
}

static int pair_by_u(const void *a, const void *b)
{
	const struct inopair *x = a, *y = b;

	return x->u < y->u ? -1 : x->u > y->u;
}

/* Compare the whole union with the reference; returns the differences. */
static int verify(const char *what)
{
	struct cmp c = { .what = what };
	struct stat st;
	double t0 = now();
	size_t i;

	if (stat(mnt, &st)) {
		say("FAIL %s: stat %s: %s", what, mnt, strerror(errno));
		return 1;
	}
	c.udev = st.st_dev;
	c.a = malloc(1 << 20);
	c.b = malloc(1 << 20);
	if (!c.a || !c.b)
		die("out of memory");
	cmp_dir(&c, "");

	/* One inode in the reference <=> one inode in the union */
	qsort(c.pairs, c.npairs, sizeof(*c.pairs), pair_by_r);
	for (i = 1; i < c.npairs; i++)
		if (c.pairs[i].r == c.pairs[i - 1].r && c.pairs[i].u != c.pairs[i - 1].u)
			cmp_err(&c, "/%s and /%s are hard links, but st_ino %lu and %lu in union",
				c.pairs[i - 1].rel, c.pairs[i].rel,
				(unsigned long)c.pairs[i - 1].u, (unsigned long)c.pairs[i].u);
	qsort(c.pairs, c.npairs, sizeof(*c.pairs), pair_by_u);
	for (i = 1; i < c.npairs; i++)
		if (c.pairs[i].u == c.pairs[i - 1].u && c.pairs[i].r != c.pairs[i - 1].r)
			cmp_err(&c, "/%s and /%s are different files with one st_ino %lu in union",
				c.pairs[i - 1].rel, c.pairs[i].rel, (unsigned long)c.pairs[i].u);
	for (i = 0; i < c.npairs; i++)
		free(c.pairs[i].rel);
	free(c.pairs);
	free(c.a);
	free(c.b);
	if (c.errors)
		say("FAIL %s: %d difference(s) from the reference", what, c.errors);
	else
		say("ok %s: %lu dirs, %lu files, %lu bytes equal to the reference (%.1f s)",
		    what, c.dirs, c.files, c.bytes, now() - t0);
	return c.errors;
}

/* ---- mounting --------------------------------------------------------------------------- */

static int do_mount(const char *type, bool with_upper, bool upper_as_lower)
{
	char *opts = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&opts, &len);
	int l, ret;

	if (!f)
		return -ENOMEM;
	fputs("lowerdir=", f);
	if (upper_as_lower)
		fprintf(f, "%s:", upper);
	for (l = 0; l < nlayers; l++)
		fprintf(f, "%s%s", l ? ":" : "", layer[l]);
	if (with_upper)
		fprintf(f, ",upperdir=%s,workdir=%s", upper, work);
	if (!strcmp(type, "overlay"))
		fputs(with_upper ? ",redirect_dir=on,index=off,metacopy=off" :
			",redirect_dir=follow", f);
	fclose(f);
	ret = mount("none", mnt, type, upper_as_lower ? MS_RDONLY : 0, opts) ? -errno : 0;
	if (ret)
		say("FAIL mount -t %s -o %s: %s", type, opts, strerror(-ret));
	free(opts);
	return ret;
}

static int do_umount(const char *what)
{
	char wd[PATH_MAX];
	struct dent *d;
	ssize_t n;
	int bad = 0;

	if (umount2(mnt, 0)) {
		say("FAIL %s: umount: %s", what, strerror(errno));
		umount2(mnt, MNT_DETACH);
		return 1;
	}
	if (is_mounted(mnt)) {
		say("FAIL %s: still mounted after umount", what);
		return 1;
	}
	/* cowfs removes its temporary objects; overlayfs may leave some */
	if (!strcmp(fstype, "overlay"))
		return 0;
	fmt(wd, sizeof(wd), "%s/work", work);
	n = list_dir(wd, NULL, &d);
	if (n > 0) {
		say("FAIL %s: %zd leftover object(s) in workdir/work after umount, e.g. %s",
		    what, n, d[0].name);
		bad++;
	}
	if (n > 0)
		free_dents(d, n);
	return bad;
}

static bool have_fs(const char *type)
{
	char cmd[128];

	if (fs_registered(type))
		return true;
	fmt(cmd, sizeof(cmd), "modprobe -q %s 2>/dev/null", type);
	if (system(cmd))
		return false;
	return fs_registered(type);
}

static void drop_all_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			say("drop_caches: %s", strerror(errno));
		close(fd);
	}
}

static void print_stats(void)
{
	unsigned long done[NR_OPS] = { 0 }, erred[NR_OPS] = { 0 }, all = 0;
	char line[1024];
	int i, j, len = 0;

	for (j = 0; j < nprocs; j++)
		for (i = 0; i < NR_OPS; i++) {
			done[i] += sh->ws[j].done[i];
			erred[i] += sh->ws[j].erred[i];
		}
	for (i = 0; i < NR_OPS; i++) {
		all += done[i] + erred[i];
		len += snprintf(line + len, sizeof(line) - len, " %s %lu/%lu",
				ops[i].name, done[i], erred[i]);
		if (len > 90 || i == NR_OPS - 1) {
			say("  %s", line + 1);
			len = 0;
		}
	}
	say("random: %lu operations compared (ok/failed alike, per type above)", all);
}

static void usage(void);

static void exclude_ops(const char *list)
{
	char *dup = strdup(list), *save, *tok;
	int i;

	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < NR_OPS && strcmp(ops[i].name, tok); i++)
			;
		if (i == NR_OPS) {
			fprintf(stderr, "cowfs_stress: no operation '%s'\n", tok);
			usage();
		}
		excluded |= 1U << i;
	}
	free(dup);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cowfs_stress [-p PROCS] [-t SECONDS] [-c SECONDS] [-l LAYERS]\n"
		"                    [-s SEED] [-d DIR] [-k] [-x OP,...]\n"
		"  -p  worker processes (default 8, at most %d)\n"
		"  -t  seconds of random operations (default 120)\n"
		"  -c  seconds of each contention phase (default: -t / 8, at least 5)\n"
		"  -l  lower layers (default 3, at most %d)\n"
		"  -s  random seed (default: from the clock; printed)\n"
		"  -d  directory to work in (default: a new /tmp/cowfs-stress.XXXXXX)\n"
		"  -k  keep the directory afterwards\n"
		"  -x  leave these operations out of the random phase, e.g. -x link,rename\n"
		"The filesystem type is $COWFS_TEST_FSTYPE or cowfs.\n",
		MAX_PROCS, MAX_LAYERS);
	exit(2);
}

int main(int argc, char **argv)
{
	struct wctx g;
	double t0;
	int opt, i, bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 16);
	while ((opt = getopt(argc, argv, "p:t:c:l:s:d:kx:h")) != -1) {
		switch (opt) {
		case 'p': nprocs = atoi(optarg); break;
		case 't': duration = atoi(optarg); break;
		case 'c': cduration = atoi(optarg); break;
		case 'l': nlayers = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'd': snprintf(base, sizeof(base), "%s", optarg); break;
		case 'k': keep = true; break;
		case 'x': exclude_ops(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || nprocs < 1 || nprocs > MAX_PROCS || duration < 0 ||
	    nlayers < 1 || nlayers > MAX_LAYERS)
		usage();
	if (cduration < 0)
		cduration = duration / 8 > 5 ? duration / 8 : 5;
	fstype = test_fstype();
	if (getuid()) {
		say("SKIP: must run as root");
		return 4;
	}
	if (!have_fs(fstype)) {
		say("SKIP: filesystem type %s not available", fstype);
		return 4;
	}
	umask(0);

	if (!base[0]) {
		fmt(base, sizeof(base), "/tmp/cowfs-stress.XXXXXX");
		if (!mkdtemp(base))
			die("mkdtemp");
	} else if (mkdir_p(base, 0755)) {
		die("mkdir %s", base);
	}
	fmt(mnt, sizeof(mnt), "%s/m", base);
	fmt(ref, sizeof(ref), "%s/ref", base);
	fmt(upper, sizeof(upper), "%s/upper", base);
	fmt(work, sizeof(work), "%s/work", base);
	for (i = 0; i < nlayers; i++)
		fmt(layer[i], sizeof(layer[i]), "%s/l%d", base, i);
	if (mkdir(mnt, 0755) || mkdir(ref, 0755) || mkdir(upper, 0755) || mkdir(work, 0755))
		die("directories in %s (must be new)", base);
	for (i = 0; i < nlayers; i++)
		if (mkdir(layer[i], 0755))
			die("mkdir %s", layer[i]);
	if (chmod(ref, 0755))
		die("chmod %s", ref);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");

	say("cowfs_stress: fstype %s, %d processes, %d s random + 2 x %d s contention, %d lower layers, seed %llu, in %s",
	    fstype, nprocs, duration, cduration, nlayers, seed, base);
	for (i = 0; i < NR_OPS; i++)
		if (excluded & (1U << i))
			say("left out: %s", ops[i].name);

	/* Layers and reference */
	t0 = now();
	for (i = 0; i < nprocs; i++) {
		wctx_init(&g, i);
		gen_worker_area(&g);
		free(g.buf);
		free(g.buf2);
	}
	for (i = 0; i < (int)NR_SHARED_ANCHORS; i++)
		gen_anchors(shared_anchor[i]);
	for (i = 0; i < nlayers; i++)
		drop_lone_whiteouts(i, "");
	wctx_init(&g, 0);
	gen_contend(g.buf);
	free(g.buf);
	free(g.buf2);
	say("generated %d lower layers and the reference in %.1f s", nlayers, now() - t0);

	if (do_mount(fstype, true, false))
		goto out;
	bad = verify("initial view");
	if (bad) {
		say("the union does not show the layers right: not stressing it");
		failures += bad;
		do_umount("initial");
		goto out;
	}

	/* Random operations */
	say("random: %d processes for %d s", nprocs, duration);
	bad = run_procs("random", nprocs, worker, duration);
	if (hung) {
		failures += bad;
		goto out;
	}
	print_stats();
	if (bad)
		say("FAIL random: %d process(es) found differences", bad);
	failures += bad;
	failures += verify("after random operations");

	/* Contention */
	say("rename storm: %d processes for %d s", nprocs, cduration);
	bad = run_procs("rename storm", nprocs, rs_proc, cduration);
	if (hung) {
		failures += bad;
		goto out;
	}
	say("rename storm: %lu renames, %lu lost races (ENOENT), %lu token checks",
	    sh->rs_renames, sh->rs_enoent, sh->rs_reads);
	bad += rs_verify(true);
	if (bad)
		say("FAIL rename storm: %d problem(s)", bad);
	else
		say("ok rename storm: every token once, intact");
	failures += bad;

	say("readdir race: %d writers, %d readers for %d s", rd_writers(),
	    nprocs - rd_writers(), cduration);
	bad = run_procs("readdir race", nprocs, rd_proc, cduration);
	if (hung) {
		failures += bad;
		goto out;
	}
	say("readdir race: %lu creates/removes, %lu passes, %lu entries read",
	    sh->rd_changes, sh->rd_passes, sh->rd_entries);
	if (nprocs > 1 && !sh->rd_passes) {
		say("FAIL readdir race: no pass completed");
		bad++;
	}
	rd_update_ref();
	if (bad)
		say("FAIL readdir race: %d process(es) failed", bad);
	failures += bad;
	failures += verify("after the contention phases");

	drop_all_caches();
	failures += verify("after drop_caches");
	failures += do_umount("umount");

	/* The same layers again */
	if (!do_mount(fstype, true, false)) {
		failures += verify("after umount and mount");
		failures += rs_verify(false);
		failures += do_umount("second umount");
	} else {
		failures++;
	}

	/* The upper layer read as the top lower layer */
	if (!do_mount(fstype, false, true)) {
		failures += verify("upper layer as a lower layer (read-only union)");
		failures += do_umount("read-only umount");
	} else {
		failures++;
	}
	if (strcmp(fstype, "overlay") && have_fs("overlay")) {
		if (!do_mount("overlay", false, true)) {
			failures += verify("overlayfs reading the same layers");
			failures += do_umount("overlayfs umount");
		} else {
			failures++;
		}
	}

out:
	umount_below(base);
	if (is_mounted(mnt)) {
		say("FAIL: %s still mounted at the end", mnt);
		failures++;
	}
	if (!keep && !failures)
		rm_rf(base);
	else
		say("left %s for inspection", base);
	if (failures) {
		say("FAIL: %d problem(s) (seed %llu)", failures, seed);
		return 1;
	}
	say("PASS (seed %llu)", seed);
	return 0;
}
