// SPDX-License-Identifier: GPL-2.0
/*
 * cowfs readdir: merging layers without duplicates, hiding whiteouts,
 * opaque directories, d_type/d_ino, telldir/seekdir/rewinddir, small
 * getdents buffers, large directories and many layers.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#define NLAYERS 3

struct dent {
	char name[256];
	ino_t ino;
	unsigned char type;
};

struct listing {
	struct dent *e;
	size_t n, cap;
};

static void listing_add(struct listing *l, const char *name, ino_t ino,
			unsigned char type)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if (!l->e)
			abort();
	}
	snprintf(l->e[l->n].name, sizeof(l->e[0].name), "%s", name);
	l->e[l->n].ino = ino;
	l->e[l->n].type = type;
	l->n++;
}

static void listing_free(struct listing *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* All entries of @path through opendir()/readdir(). 0 or -errno. */
static int list_dir(const char *path, struct listing *l)
{
	DIR *d = opendir(path);
	struct dirent *de;

	memset(l, 0, sizeof(*l));
	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d)))
		listing_add(l, de->d_name, de->d_ino, de->d_type);
	closedir(d);
	return errno ? -errno : 0;
}

/* All entries of the open directory @fd through getdents64(@bufsize). */
static int list_getdents(int fd, size_t bufsize, struct listing *l)
{
	char *buf = malloc(bufsize);
	ssize_t n, off;

	memset(l, 0, sizeof(*l));
	if (!buf)
		return -ENOMEM;
	while ((n = getdents64(fd, buf, bufsize)) > 0) {
		for (off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);

			listing_add(l, de->d_name, de->d_ino, de->d_type);
			off += de->d_reclen;
		}
	}
	free(buf);
	return n < 0 ? -errno : 0;
}

static size_t listing_count(const struct listing *l, const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < l->n; i++)
		c += !strcmp(l->e[i].name, name);
	return c;
}

/*
 * The listing holds exactly ".", ".." and @expect[], each exactly once.
 */
static void check_names(struct __test_metadata *_metadata,
			const struct listing *l, const char *const *expect,
			size_t n)
{
	size_t i;

	EXPECT_EQ(1, listing_count(l, "."));
	EXPECT_EQ(1, listing_count(l, ".."));
	for (i = 0; i < n; i++) {
		/* braces: TH_LOG is a separate statement after EXPECT_EQ */
		EXPECT_EQ(1, listing_count(l, expect[i])) TH_LOG("%s", expect[i]);
	}
	EXPECT_EQ(n + 2, l->n);
}

/*
 * d_ino equals lstat().st_ino and d_type the lstat() type for each entry
 * (".." only below the union root: at the root it crosses the mount).
 */
static void check_ino_type(struct __test_metadata *_metadata,
			   const char *dirpath, const struct listing *l,
			   bool is_root)
{
	char dir[PATH_MAX];
	struct stat st;
	size_t i;

	snprintf(dir, sizeof(dir), "%s", dirpath);	/* may be a pathf() */
	for (i = 0; i < l->n; i++) {
		if (is_root && !strcmp(l->e[i].name, ".."))
			continue;
		ASSERT_EQ(0, lstat(pathf("%s/%s", dir, l->e[i].name), &st))
			TH_LOG("%s/%s", dir, l->e[i].name);
		EXPECT_EQ(st.st_ino, l->e[i].ino) TH_LOG("d_ino of %s", l->e[i].name);
		EXPECT_EQ(IFTODT(st.st_mode), l->e[i].type)
			TH_LOG("d_type of %s", l->e[i].name);
	}
}

static const struct layer_entry rd_layers[] = {
	/* "m": merged from three layers with duplicates and whiteouts */
	{ 0, E_FILE, "m/one", "1" },
	{ 0, E_FILE, "m/dup", "top" },
	{ 0, E_WHITEOUT, "m/wo", NULL },
	{ 0, E_DIR, "m/sub", NULL },
	{ 0, E_SYMLINK, "m/lnk", "one" },
	{ 1, E_FILE, "m/two", "2" },
	{ 1, E_FILE, "m/dup", "mid" },
	{ 1, E_WHITEOUT, "m/wo_only", NULL },
	{ 1, E_FILE, "m/sub/x", "x" },
	{ 2, E_FILE, "m/three", "3" },
	{ 2, E_FILE, "m/dup", "bottom" },
	{ 2, E_FILE, "m/wo", "hidden" },
	{ 2, E_FILE, "m/sub/y", "y" },
	/* "o": opaque in the top layer */
	{ 0, E_OPAQUE, "o", NULL },
	{ 0, E_FILE, "o/top", "t" },
	{ 1, E_FILE, "o/mid", "m" },
	/* "om": opaque in the middle layer */
	{ 0, E_FILE, "om/top", "t" },
	{ 1, E_OPAQUE, "om", NULL },
	{ 1, E_FILE, "om/mid", "m" },
	{ 2, E_FILE, "om/low", "l" },
	/* "empty": everything below whited out */
	{ 0, E_WHITEOUT, "empty/p", NULL },
	{ 0, E_WHITEOUT, "empty/q", NULL },
	{ 1, E_FILE, "empty/p", "p" },
	{ 2, E_FILE, "empty/q", "q" },
	/* "single": only in the bottom layer */
	{ 2, E_FILE, "single/s1", "1" },
	{ 2, E_FILE, "single/s2", "2" },
	/* "fod": a file hiding a lower directory */
	{ 0, E_FILE, "fod", "file" },
	{ 1, E_FILE, "fod/child", "hidden" },
	/* root level whiteout */
	{ 0, E_WHITEOUT, "rootwo", NULL },
	{ 2, E_FILE, "rootwo", "hidden" },
};

static const char *const m_names[] = { "one", "dup", "sub", "lnk", "two",
				       "three" };
static const char *const root_names[] = { "m", "o", "om", "empty", "single",
					  "fod" };

FIXTURE(rd) {
	struct cowfs_env env;
};

FIXTURE_SETUP(rd)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, NLAYERS));
	SETUP_ASSERT0(&self->env, build_layers(&self->env, rd_layers,
					       ARRAY_LEN(rd_layers)));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(rd)
{
	env_cleanup(&self->env);
}

#define U(rel) UPATH(&self->env, rel)

/* list_dir() of a union path, failing the test if it cannot be read. */
#define LIST(l, rel) ASSERT_EQ(0, list_dir(U(rel), (l)))

TEST_F(rd, merged_dir_lists_each_name_once)
{
	struct listing l;

	LIST(&l, "m");
	check_names(_metadata, &l, m_names, ARRAY_LEN(m_names));
	listing_free(&l);
}

TEST_F(rd, whiteouts_not_listed)
{
	struct listing l;

	LIST(&l, "m");
	EXPECT_EQ(0, listing_count(&l, "wo"));
	EXPECT_EQ(0, listing_count(&l, "wo_only"));
	listing_free(&l);
	LIST(&l, ".");
	EXPECT_EQ(0, listing_count(&l, "rootwo"));
	listing_free(&l);
}

TEST_F(rd, root_dir_merges_layers)
{
	struct listing l;

	LIST(&l, ".");
	check_names(_metadata, &l, root_names, ARRAY_LEN(root_names));
	listing_free(&l);
}

TEST_F(rd, d_type_and_d_ino_match_lstat)
{
	const char *const dirs[] = { ".", "m", "m/sub", "o", "om", "single" };
	struct listing l;
	size_t i;

	for (i = 0; i < ARRAY_LEN(dirs); i++) {
		LIST(&l, dirs[i]);
		check_ino_type(_metadata, U(dirs[i]), &l, !strcmp(dirs[i], "."));
		listing_free(&l);
	}
}

TEST_F(rd, subdir_merges_below)
{
	const char *const want[] = { "x", "y" };
	struct listing l;

	LIST(&l, "m/sub");
	check_names(_metadata, &l, want, ARRAY_LEN(want));
	listing_free(&l);
}

TEST_F(rd, opaque_dir_lists_only_its_layer)
{
	const char *const want[] = { "top" };
	struct listing l;

	LIST(&l, "o");
	check_names(_metadata, &l, want, ARRAY_LEN(want));
	listing_free(&l);
}

TEST_F(rd, opaque_mid_layer_stops_merge)
{
	const char *const want[] = { "top", "mid" };
	struct listing l;

	LIST(&l, "om");
	check_names(_metadata, &l, want, ARRAY_LEN(want));
	listing_free(&l);
}

TEST_F(rd, all_whited_out_dir_is_empty)
{
	struct listing l;

	LIST(&l, "empty");
	check_names(_metadata, &l, NULL, 0);
	listing_free(&l);
}

TEST_F(rd, single_layer_dir)
{
	const char *const want[] = { "s1", "s2" };
	struct listing l;

	LIST(&l, "single");
	check_names(_metadata, &l, want, ARRAY_LEN(want));
	listing_free(&l);
}

TEST_F(rd, file_over_dir_listed_as_file)
{
	struct listing l;
	size_t i;

	LIST(&l, ".");
	for (i = 0; i < l.n; i++) {
		if (!strcmp(l.e[i].name, "fod"))
			EXPECT_EQ(DT_REG, l.e[i].type);
	}
	EXPECT_EQ(1, listing_count(&l, "fod"));
	listing_free(&l);
}

/* Small getdents64 buffers force many calls that resume from f_pos. */
TEST_F(rd, small_getdents_buffer_same_entries)
{
	struct listing l;
	int fd = open(U("m"), O_RDONLY | O_DIRECTORY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, list_getdents(fd, 64, &l));
	check_names(_metadata, &l, m_names, ARRAY_LEN(m_names));
	listing_free(&l);
	close(fd);
}

TEST_F(rd, rewinddir_lists_again)
{
	DIR *d = opendir(U("m"));
	size_t first = 0, second = 0;

	ASSERT_NE(NULL, d);
	while (readdir(d))
		first++;
	rewinddir(d);
	while (readdir(d))
		second++;
	closedir(d);
	EXPECT_EQ(ARRAY_LEN(m_names) + 2, first);
	EXPECT_EQ(first, second);
}

TEST_F(rd, lseek_zero_restarts_getdents)
{
	struct listing a, b;
	int fd = open(U("m"), O_RDONLY | O_DIRECTORY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, list_getdents(fd, 4096, &a));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(0, list_getdents(fd, 4096, &b));
	check_names(_metadata, &b, m_names, ARRAY_LEN(m_names));
	EXPECT_EQ(a.n, b.n);
	listing_free(&a);
	listing_free(&b);
	close(fd);
}

/*
 * telldir() after @skip entries, then seekdir() back there: readdir()
 * returns the same entry as the first time, and the rest of the listing
 * follows unchanged.
 */
static void check_seekdir(struct __test_metadata *_metadata, const char *path,
			  size_t skip)
{
	struct listing first, again;
	struct dirent *de;
	DIR *d = opendir(path);
	long pos;
	size_t i;

	memset(&first, 0, sizeof(first));
	memset(&again, 0, sizeof(again));
	ASSERT_NE(NULL, d);
	for (i = 0; i < skip; i++)
		ASSERT_NE(NULL, readdir(d));
	pos = telldir(d);
	ASSERT_NE(-1, pos);
	while ((de = readdir(d)))
		listing_add(&first, de->d_name, de->d_ino, de->d_type);
	ASSERT_LT(0, first.n);
	seekdir(d, pos);
	while ((de = readdir(d)))
		listing_add(&again, de->d_name, de->d_ino, de->d_type);
	closedir(d);
	ASSERT_EQ(first.n, again.n);
	for (i = 0; i < first.n; i++)
		EXPECT_STREQ(first.e[i].name, again.e[i].name);
	listing_free(&first);
	listing_free(&again);
}

TEST_F(rd, telldir_seekdir_resume)
{
	check_seekdir(_metadata, U("m"), 3);
}

/*
 * A large directory: 1000 names in each of three layers, overlapping by
 * half, with 100 of the bottom layer's names whited out at the top.
 */
#define LARGE_PER_LAYER 1000
#define LARGE_WHITEOUTS 100
#define LARGE_TOTAL (2 * LARGE_PER_LAYER - LARGE_WHITEOUTS)

static int large_layers(struct cowfs_env *env)
{
	int layer, i, ret = 0;

	for (layer = 0; layer < NLAYERS && !ret; layer++)
		for (i = 0; i < LARGE_PER_LAYER && !ret; i++) {
			int n = layer * LARGE_PER_LAYER / 2 + i;

			ret = mkfile(LPATH(env, layer, pathf("big/f%04d", n)), "");
		}
	/* hide f1500 .. f1599, which only the bottom layer has */
	for (i = 0; i < LARGE_WHITEOUTS && !ret; i++)
		ret = mkwhiteout(LPATH(env, 0, pathf("big/f%04d", 1500 + i)));
	return ret;
}

FIXTURE(large) {
	struct cowfs_env env;
};

FIXTURE_SETUP(large)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, NLAYERS));
	SETUP_ASSERT0(&self->env, large_layers(&self->env));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(large)
{
	env_cleanup(&self->env);
}

TEST_F_TIMEOUT(large, all_names_once, 120)
{
	struct listing l;
	size_t i;

	LIST(&l, "big");
	EXPECT_EQ(LARGE_TOTAL + 2, l.n);
	for (i = 0; i < 2000; i++) {
		const char *name = pathf("f%04d", (int)i);
		size_t want = i >= 1500 && i < 1500 + LARGE_WHITEOUTS ? 0 : 1;

		EXPECT_EQ(want, listing_count(&l, name)) TH_LOG("%s", name);
	}
	listing_free(&l);
}

TEST_F_TIMEOUT(large, small_buffer_same_count, 120)
{
	struct listing l;
	int fd = open(U("big"), O_RDONLY | O_DIRECTORY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, list_getdents(fd, 512, &l));
	EXPECT_EQ(LARGE_TOTAL + 2, l.n);
	listing_free(&l);
	close(fd);
}

TEST_F_TIMEOUT(large, seekdir_past_first_buffer, 120)
{
	check_seekdir(_metadata, U("big"), LARGE_TOTAL / 2);
}

TEST_F_TIMEOUT(large, d_ino_match_lstat, 120)
{
	struct listing l;

	LIST(&l, "big");
	check_ino_type(_metadata, U("big"), &l, false);
	listing_free(&l);
}

/* 100 layers, each with its own name plus one name they all share. */
#define MANY 100

FIXTURE(many) {
	struct cowfs_env env;
};

static int many_layers(struct cowfs_env *env)
{
	int i, ret = 0;

	for (i = 0; i < MANY && !ret; i++) {
		ret = mkfile(LPATH(env, i, pathf("d/own%d", i)), "");
		ret = ret ?: mkfile(LPATH(env, i, "d/common"), pathf("%d", i));
	}
	return ret;
}

FIXTURE_SETUP(many)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, MANY));
	SETUP_ASSERT0(&self->env, many_layers(&self->env));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(many)
{
	env_cleanup(&self->env);
}

TEST_F_TIMEOUT(many, hundred_layers_merge, 120)
{
	struct listing l;
	int i;

	LIST(&l, "d");
	EXPECT_EQ(MANY + 1 + 2, l.n);
	EXPECT_EQ(1, listing_count(&l, "common"));
	for (i = 0; i < MANY; i++) {
		EXPECT_EQ(1, listing_count(&l, pathf("own%d", i))) TH_LOG("own%d", i);
	}
	listing_free(&l);
	EXPECT_STREQ("0", slurp(U("d/common")));
}

/*
 * Layers on two different tmpfs instances reuse inode numbers: d_ino must
 * still equal st_ino and be unique within the directory.
 */
FIXTURE(xdev) {
	struct cowfs_env env;
};

static int xdev_layers(struct cowfs_env *env)
{
	int i, j, ret = 0;

	for (i = 0; i < 2 && !ret; i++) {
		if (mount("tmpfs", env->layers[i], "tmpfs", 0, "size=1m,mode=0755"))
			return -errno;
		for (j = 0; j < 5 && !ret; j++)
			ret = mkfile(LPATH(env, i, pathf("d/l%d_%d", i, j)), "");
	}
	return ret;
}

FIXTURE_SETUP(xdev)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, 2));
	SETUP_ASSERT0(&self->env, xdev_layers(&self->env));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(xdev)
{
	env_cleanup(&self->env);
}

TEST_F(xdev, d_ino_matches_and_unique)
{
	struct listing l;
	size_t i, j;

	LIST(&l, "d");
	EXPECT_EQ(10 + 2, l.n);
	check_ino_type(_metadata, U("d"), &l, false);
	for (i = 0; i < l.n; i++) {
		for (j = i + 1; j < l.n; j++) {
			if (!strcmp(l.e[i].name, "..") || !strcmp(l.e[j].name, ".."))
				continue;
			EXPECT_NE(l.e[i].ino, l.e[j].ino)
				TH_LOG("%s vs %s", l.e[i].name, l.e[j].name);
		}
	}
	listing_free(&l);
}

TEST_HARNESS_MAIN
