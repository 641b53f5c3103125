// SPDX-License-Identifier: GPL-2.0
/*
 * Lookups in directories merged over many layers, where cowfs indexes the
 * names of the lower directories (kernel/nameidx.c) and probes only the
 * layers that hold a name.  A seeded random image of 40 layers puts files,
 * whiteouts (overlayfs's and, in one variant, AUFS .wh. markers),
 * directories and opaque directories under one merged directory, plus
 * directories renamed by relative and absolute redirects; every name is
 * checked against a model of what a union shows (type, content, children)
 * and against a listing, cold, with the directory indexed, and after a
 * remount.  The same test runs with the index switched off and on
 * overlayfs, which must agree with the model too.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#define NL		40	/* layers; 0 is the top */
#define NNAMES		300	/* names n000..n299 in the merged directory */
#define NABSENT		200
#define SEED		0x6e616d65
#define BIG_TOP		36000	/* past_the_limit: names in the top layer */
#define BIG_BOTTOM	32000	/* ... and in the bottom one: > 65536 in all */
#define LONG_NAMES	8000	/* past_the_byte_limit: names in each of 2 layers */
#define LONG_NAME	240	/* ... this long: more than 4 MiB in all */
#define REDIRECT_XATTR	"trusted.overlay.redirect"
#define PARAM		"/sys/module/cowfs/parameters/lookup_index"

enum kind { K_NONE, K_FILE, K_WH, K_DIR, K_OPQ, K_AUFS };

FIXTURE(nameidx) {
	struct cowfs_env env;
	unsigned char kind[NL][NNAMES];
	char param_old;		/* lookup_index before the test, 0 if none */
};

FIXTURE_VARIANT(nameidx) {
	const char *fstype;
	bool index;
	bool aufs;
};

FIXTURE_VARIANT_ADD(nameidx, cowfs) {
	.fstype = "cowfs",
	.index = true,
};

FIXTURE_VARIANT_ADD(nameidx, cowfs_no_index) {
	.fstype = "cowfs",
};

FIXTURE_VARIANT_ADD(nameidx, cowfs_aufs) {
	.fstype = "cowfs",
	.index = true,
	.aufs = true,
};

FIXTURE_VARIANT_ADD(nameidx, overlay) {
	.fstype = "overlay",
};

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static const char *nm(int i)
{
	return pathf("n%03d", i);
}

static int param_set(char v)
{
	int fd = open(PARAM, O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, &v, 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

static char param_get(void)
{
	char v = 0;
	int fd = open(PARAM, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &v, 1) != 1)
			v = 0;
		close(fd);
	}
	return v;
}

/* A directory d/NAME in layer @l, with a child of its own. */
static int mkdir_child(struct cowfs_env *env, int l, const char *dir)
{
	return mkfile(LPATH(env, l, pathf("%s/c%02d", dir, l)),
		      pathf("L%02d", l));
}

static int build_image(struct cowfs_env *env, unsigned char kind[NL][NNAMES],
		       bool aufs)
{
	uint32_t s = SEED;
	int l, i, ret = 0;

	for (l = 0; l < NL && !ret; l++) {
		ret = mkdir_p(LPATH(env, l, "d"), 0755);
		for (i = 0; i < NNAMES && !ret; i++) {
			uint32_t r = rng_next(&s) % 100;
			const char *p = pathf("d/%s", nm(i));

			kind[l][i] = r < 85 ? K_NONE : r < 92 ? K_FILE :
				     r < 95 ? K_WH : r < 98 ? K_DIR :
				     r < 99 ? K_OPQ : aufs ? K_AUFS : K_NONE;
			switch (kind[l][i]) {
			case K_FILE:
				ret = mkfile(LPATH(env, l, p),
					     pathf("L%02d:%s", l, nm(i)));
				break;
			case K_WH:
				ret = mkwhiteout(LPATH(env, l, p));
				break;
			case K_DIR:
			case K_OPQ:
				ret = mkdir_child(env, l, p);
				if (!ret && kind[l][i] == K_OPQ)
					ret = mkopaque(LPATH(env, l, p));
				break;
			case K_AUFS:
				ret = mkfile(LPATH(env, l, pathf("d/.wh.%s", nm(i))),
					     "");
				break;
			}
		}
	}
	if (ret)
		return ret;
	/* Contents for the redirected directories: d/orig in 10 and 25 */
	ret = mkdir_child(env, 10, "d/orig") ?: mkdir_child(env, 25, "d/orig");
	ret = ret ?: mkdir_child(env, 3, "d/moved");
	ret = ret ?: mkdir_child(env, 3, "d/absmoved");
	if (ret)
		return ret;
	if (setxattr(LPATH(env, 3, "d/moved"), REDIRECT_XATTR, "orig", 4, 0) ||
	    setxattr(LPATH(env, 3, "d/absmoved"), REDIRECT_XATTR, "/d/orig",
		     7, 0))
		return -errno;
	return 0;
}

static int mount_at(struct cowfs_env *env, const char *mnt, bool aufs)
{
	const struct fsparam extra[] = { { "aufs_whiteouts", NULL } };
	char log[256];

	return union_mount(false, mnt, (const char *const *)env->layers,
			   env->nlayers, extra, aufs ? 1 : 0, log, sizeof(log));
}

static int mount_it(struct cowfs_env *env, bool aufs)
{
	return mount_at(env, env->mnt, aufs);
}

FIXTURE_SETUP(nameidx)
{
	if (getuid() != 0)
		SKIP(return, "must run as root");
	if (!fs_registered(variant->fstype) &&
	    system(pathf("modprobe -q %s", variant->fstype)) == -1)
		SKIP(return, "no modprobe");
	if (!fs_registered(variant->fstype))
		SKIP(return, "no %s", variant->fstype);
	setenv("COWFS_TEST_FSTYPE", variant->fstype, 1);
	if (!strcmp(variant->fstype, "cowfs")) {
		self->param_old = param_get();
		ASSERT_NE(0, self->param_old) TH_LOG("no %s", PARAM);
		ASSERT_EQ(0, param_set(variant->index ? 'Y' : 'N'));
	}
	SETUP_ASSERT0(&self->env, env_init(&self->env, NL));
	SETUP_ASSERT0(&self->env, build_image(&self->env, self->kind,
					      variant->aufs));
	SETUP_ASSERT0(&self->env, mount_it(&self->env, variant->aufs));
}

FIXTURE_TEARDOWN(nameidx)
{
	env_cleanup(&self->env);
	if (self->param_old)
		param_set(self->param_old);
}

/*
 * What the union shows for d/NAME: -1 nothing, else the layer whose entry
 * decides it; for a directory, the layers whose children it merges.
 */
static int model(unsigned char kind[NL][NNAMES], int i, bool merged[NL])
{
	int top, l;

	memset(merged, 0, NL * sizeof(*merged));
	for (top = 0; top < NL && kind[top][i] == K_NONE; top++)
		;
	if (top == NL || kind[top][i] == K_WH || kind[top][i] == K_AUFS)
		return -1;
	if (kind[top][i] == K_FILE)
		return top;
	merged[top] = true;
	for (l = top + 1; l < NL && kind[l - 1][i] != K_OPQ; l++) {
		if (kind[l][i] == K_NONE)
			continue;
		if (kind[l][i] != K_DIR && kind[l][i] != K_OPQ)
			break;
		merged[l] = true;
	}
	return top;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory @path, sorted, as one ' '-separated string. */
static char *listing(const char *path)
{
	char *names[1024], *out;
	size_t n = 0, len = 1, i;
	struct dirent *de;
	DIR *dir = opendir(path);

	if (!dir)
		return NULL;
	while ((de = readdir(dir)) && n < ARRAY_LEN(names)) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names[n] = strdup(de->d_name);
		len += strlen(de->d_name) + 1;
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp_str);
	out = calloc(1, len);
	for (i = 0; i < n; i++) {
		if (out)
			strcat(strcat(out, names[i]), i + 1 < n ? " " : "");
		free(names[i]);
	}
	return out;
}

/* The children a merged directory shows: "c03 c10 c25". */
static void children_of(const bool merged[NL], char *buf, size_t size)
{
	size_t len = 0;
	int l;

	buf[0] = '\0';
	for (l = 0; l < NL; l++) {
		if (merged[l])
			len += snprintf(buf + len, size - len, "%sc%02d",
					len ? " " : "", l);
	}
}

/* Check a merged directory: its listing, and each child's content. */
static void check_dir(struct __test_metadata *_metadata, const char *rel,
		      const bool merged[NL], const char *mnt)
{
	char want[NL * 4 + 1];
	char *got;
	int l;

	children_of(merged, want, sizeof(want));
	got = listing(pathf("%s/%s", mnt, rel));
	ASSERT_NE(NULL, got);
	EXPECT_STREQ(want, got) TH_LOG("children of %s", rel);
	free(got);
	for (l = 0; l < NL; l++) {
		if (merged[l])
			EXPECT_STREQ(pathf("L%02d", l),
				     slurp(pathf("%s/%s/c%02d", mnt, rel, l)));
	}
}

/* Every name of the image against the model; @reverse: the other order. */
static void check_all(struct __test_metadata *_metadata,
		      FIXTURE_DATA(nameidx) *self, bool reverse)
{
	const char *mnt = self->env.mnt;
	size_t wlen = 0;
	bool merged[NL];
	char *want, *got;
	struct stat st;
	int k, i, top;

	want = calloc(NNAMES + 3, 6);
	ASSERT_NE(NULL, want);
	for (k = 0; k < NNAMES; k++) {
		i = reverse ? NNAMES - 1 - k : k;
		top = model(self->kind, i, merged);
		if (top < 0) {
			EXPECT_EQ(-ENOENT, lstat_err(pathf("%s/d/%s", mnt, nm(i))))
				TH_LOG("%s should be hidden", nm(i));
			continue;
		}
		ASSERT_EQ(0, lstat(pathf("%s/d/%s", mnt, nm(i)), &st))
			TH_LOG("%s (layer %d): %s", nm(i), top, strerror(errno));
		if (self->kind[top][i] == K_FILE) {
			EXPECT_TRUE(S_ISREG(st.st_mode));
			EXPECT_STREQ(pathf("L%02d:%s", top, nm(i)),
				     slurp(pathf("%s/d/%s", mnt, nm(i))));
		} else {
			EXPECT_TRUE(S_ISDIR(st.st_mode)) TH_LOG("%s", nm(i));
			check_dir(_metadata, pathf("d/%s", nm(i)), merged, mnt);
		}
	}
	for (i = 0; i < NABSENT; i++)
		EXPECT_EQ(-ENOENT, lstat_err(pathf("%s/d/absent%03d", mnt, i)));

	/* The redirected directories reach d/orig of layers 10 and 25 */
	memset(merged, 0, sizeof(merged));
	merged[10] = merged[25] = true;
	check_dir(_metadata, "d/orig", merged, mnt);
	merged[3] = true;
	check_dir(_metadata, "d/moved", merged, mnt);
	check_dir(_metadata, "d/absmoved", merged, mnt);

	/* The listing of d agrees with the lookups */
	wlen = sprintf(want, "absmoved moved");
	for (i = 0; i < NNAMES; i++) {
		if (model(self->kind, i, merged) >= 0)
			wlen += sprintf(want + wlen, " %s", nm(i));
	}
	strcpy(want + wlen, " orig");
	got = listing(pathf("%s/d", mnt));
	ASSERT_NE(NULL, got);
	EXPECT_STREQ(want, got);
	free(got);
	free(want);
}

/* Lookups cold, then again with the dentries gone but d (and its index) kept */
TEST_F_TIMEOUT(nameidx, lookups_agree_with_the_layers, 300)
{
	int fd;

	check_all(_metadata, self, false);
	fd = open(pathf("%s/d", self->env.mnt), O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	drop_caches();
	check_all(_metadata, self, true);
	drop_caches();
	check_all(_metadata, self, false);
	close(fd);

	ASSERT_EQ(0, env_umount(&self->env));
	ASSERT_EQ(0, mount_it(&self->env, variant->aufs));
	check_all(_metadata, self, true);
}

/*
 * Keep d (an open descriptor, returned), look up enough absent names in
 * it to make it worth an index, then give the bottom layer a d/late.
 */
static int index_d_then_grow(struct __test_metadata *_metadata,
			     FIXTURE_DATA(nameidx) *self)
{
	int fd, i;

	fd = open(pathf("%s/d", self->env.mnt), O_RDONLY | O_DIRECTORY);
	EXPECT_LE(0, fd);
	for (i = 0; i < NABSENT; i++)
		EXPECT_EQ(-ENOENT, lstat_err(pathf("%s/d/absent%03d",
						   self->env.mnt, i)));
	EXPECT_EQ(0, mkfile(LPATH(&self->env, NL - 1, "d/late"), "late"));
	return fd;
}

/*
 * A name a lower layer gains while mounted: undefined behaviour, on
 * overlayfs as here, but it shows whether the index decides.  Once d is
 * indexed, its lookups do not probe the layer for a name it did not have.
 */
TEST_F(nameidx, the_index_decides)
{
	bool indexed = !strcmp(variant->fstype, "cowfs") && variant->index;
	int fd = index_d_then_grow(_metadata, self);

	EXPECT_EQ(indexed ? -ENOENT : 0,
		  lstat_err(pathf("%s/d/late", self->env.mnt)));
	close(fd);
}

/*
 * The unions of one image share each directory's index: a second union
 * over the same layers does not read them again, so the name a layer
 * gained after the first union indexed d does not show in the second one
 * either, not even at its first lookup.
 */
TEST_F(nameidx, unions_of_one_image_share_it)
{
	bool indexed = !strcmp(variant->fstype, "cowfs") && variant->index;
	const char *m2 = pathf("%s/m2", self->env.base);
	char *mnt2 = strdup(m2);
	int fd = index_d_then_grow(_metadata, self);

	ASSERT_EQ(0, mkdir_p(mnt2, 0755));
	ASSERT_EQ(0, mount_at(&self->env, mnt2, variant->aufs));
	EXPECT_EQ(indexed ? -ENOENT : 0, lstat_err(pathf("%s/d/late", mnt2)));
	/* And the shared index still answers what it holds */
	EXPECT_EQ(0, lstat_err(pathf("%s/d/orig/c10", mnt2)));
	EXPECT_EQ(0, umount(mnt2));
	close(fd);
	free(mnt2);
}

/* Name @i of a big directory: six digits, padded with x to @len bytes */
static const char *big_name(int i, int len)
{
	static char name[NAME_MAX + 1];

	memset(name, 'x', len);
	name[len] = '\0';
	memcpy(name, pathf("%06d", i), 6);
	return name;
}

/*
 * Directory @dir with names 0..@n-1 of @len bytes, the first @n_top in the
 * top layer and the rest in the bottom one; the union mounted again, and
 * @dir looked up in by every third name twice, the caches dropped before
 * each pass (the first pass makes it worth an index, the second uses
 * whatever it got).  Returns an open descriptor of @dir, which keeps it.
 */
static int big_dir(struct __test_metadata *_metadata,
		   FIXTURE_DATA(nameidx) *self, bool aufs, const char *dir,
		   int n_top, int n, int len)
{
	char *t = strdup(LPATH(&self->env, 0, dir));
	char *b = strdup(LPATH(&self->env, NL - 1, dir));
	int i, j, fd;

	EXPECT_EQ(0, env_umount(&self->env));
	EXPECT_EQ(0, mkdir_p(t, 0755));
	EXPECT_EQ(0, mkdir_p(b, 0755));
	for (i = 0; i < n; i++) {
		fd = open(pathf("%s/%s", i < n_top ? t : b, big_name(i, len)),
			  O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		EXPECT_LE(0, fd);
		close(fd);
	}
	free(t);
	free(b);
	EXPECT_EQ(0, mount_it(&self->env, aufs));
	fd = open(pathf("%s/%s", self->env.mnt, dir), O_RDONLY | O_DIRECTORY);
	EXPECT_LE(0, fd);
	for (j = 0; j < 2; j++) {
		drop_caches();
		for (i = j; i < n; i += 3)
			EXPECT_EQ(0, lstat_err(pathf("%s/%s/%s", self->env.mnt,
						     dir, big_name(i, len))));
		EXPECT_EQ(-ENOENT, lstat_err(pathf("%s/%s/absent%d",
						   self->env.mnt, dir, j)));
	}
	return fd;
}

/*
 * A directory with more names than an index holds is never indexed: had
 * a partial index been kept, the names past the limit would be hidden.
 */
TEST_F_TIMEOUT(nameidx, past_the_limit, 300)
{
	int fd = big_dir(_metadata, self, variant->aufs, "big", BIG_TOP,
			 BIG_TOP + BIG_BOTTOM, 6);

	close(fd);
}

/*
 * Nor one whose names take more than 4 MiB (fewer, but long, names): there
 * the lookups probe every layer, and find a name a layer gained since.
 */
TEST_F_TIMEOUT(nameidx, past_the_byte_limit, 300)
{
	int fd = big_dir(_metadata, self, variant->aufs, "long", LONG_NAMES,
			 2 * LONG_NAMES, LONG_NAME);

	ASSERT_EQ(0, mkfile(LPATH(&self->env, NL - 1, "long/late"), "late"));
	EXPECT_EQ(0, lstat_err(pathf("%s/long/late", self->env.mnt)));
	close(fd);
}

TEST_HARNESS_MAIN
