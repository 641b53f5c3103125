// SPDX-License-Identifier: GPL-2.0
/*
 * index=on, as overlayfs has it: a lower file with several names (hard
 * links) stays one inode in the union across copy-up.  The first copy-up
 * of such a file goes to WORK/index/<hex of its origin file handle>, and
 * each name that is copied up after it is a hard link of that inode; the
 * union's st_nlink is kept in trusted.overlay.nlink, relative to the
 * upper ("U+n") or lower ("L+n") inode's.  A mount with index=on records
 * the lower root in the upper root's trusted.overlay.origin and the upper
 * root in WORK/index's trusted.overlay.upper, and checks both next time.
 *
 * Checked here, on overlayfs (the reference) and on cowfs:
 *  - the index dir and the two xattrs of a mount (1);
 *  - a write through one of three names: all three keep one st_ino and
 *    st_nlink 3 and read the new data; one upper file and its index entry
 *    (2); metadata changes and truncation through another name (3);
 *    unlink, of the last name too and with the file open (4); link, a
 *    new name outliving the lower ones (5); rename over a name, of a name,
 *    of the parent directory (6); remount, many writers at once (7);
 *    a file of one link is not indexed;
 *  - a second mount of a live upperdir or workdir (8), a lower or an
 *    index dir that is not the one recorded, no upper (10);
 *  - an upper written by one filesystem read and written by the other
 *    (fixture ixio; overlay_to_overlay checks the test itself) (9);
 *  - hostile index entries planted before mount (11);
 *  - metacopy=on with index=on (12).
 *
 * Index entries are found by listing WORK/index (names starting with '#'
 * are temporaries) and matching st_dev/st_ino with the upper file.
 *
 * What overlayfs (6.12) does that may surprise (all asserted below):
 *  - A read-only descriptor of a name opened before another name's copy-up
 *    reads the new data: the inode is shared, so the open file follows it.
 *  - A metadata change (chmod, chown, setxattr) through a name that is not
 *    in the upper yet "links up" that name: the upper dir gets a hard
 *    link of the index inode.  An unlink of a name that only the lower
 *    layer has does the same before it writes the whiteout, so it makes
 *    an index entry even when no data was ever copied up, and the lower
 *    names then show st_nlink one less, after a remount too.
 *  - The index entry goes as soon as the last name is unlinked, not at
 *    umount.  WORK/index also holds overlayfs's shared whiteout "#N"
 *    (with index=on the index dir is the work dir).
 *  - A second mount of a live upperdir, or of a live workdir alone, with
 *    index=on: EBUSY, "overlayfs: upperdir is in-use as upperdir/workdir
 *    of another mount, mount with '-o index=off' to override exclusive
 *    upperdir protection."; with index=off it mounts, with a warning
 *    (cowfs refuses it, EBUSY, documented in docs/overlay-differences.md).
 *  - A lower root that is not the upper root's origin: ESTALE, "failed to
 *    verify upper root origin"; index=off mounts it.
 *  - WORK/index's trusted.overlay.upper of another upper: ESTALE, "failed
 *    to verify index dir 'upper' xattr"; but a value that is no file
 *    handle at all counts as absent and is overwritten without a word of
 *    refusal (only "invalid origin (...)").
 *  - index=on without an upperdir mounts read-only ("option "index=on" is
 *    useless in a non-upper mount, ignore") and does not show index=on.
 *  - Hostile entries: a directory or a whiteout in the entry's place
 *    mounts, and every name of the file fails with EIO ("bad index
 *    found"); a fifo, or a regular file without trusted.overlay.origin, or
 *    with one that is no file handle: the mount fails with ENODATA
 *    ("failed index dir cleanup (-61)"); an origin of another file: the
 *    entry is taken as stale and deleted at mount, and the names split
 *    (the copied-up one alone, the lower ones as in the lower layer).
 *  - A trusted.overlay.nlink that does not parse or gives <= 0 (also
 *    "U+2147483647", which overflows) falls back to the upper inode's
 *    st_nlink (2 here: the index entry and one name), "failed to get index
 *    nlink"; an entry with st_nlink 1 whose xattr says 0 union links is an
 *    orphan, deleted at mount ("orphan index entry").
 *
 * The cowfs variants fail, not skip, while cowfs refuses index=on.
 * Run with: make test T=index_test
 */
#include "kselftest_harness.h"
#include "metacopy_util.h"

#define OVL_UPPER_XATTR		"trusted.overlay.upper"
#define OVL_NLINK_XATTR		"trusted.overlay.nlink"

#define DATA		"lower data\n"
#define MORE		"more\n"
#define DATA_MORE	DATA MORE
#define X_DATA		"x data\n"

/* ---- helpers ------------------------------------------------------------- */

/*
 * Mount @fstype on @mnt: lowerdir=@lower (already "a:b"), upperdir=@upper,
 * workdir=@work (both may be NULL), index=@index, then @extra (may be NULL).
 */
static int ix_mount_at(const char *fstype, const char *mnt, const char *lower,
		       const char *upper, const char *work, const char *index,
		       const char *extra)
{
	char *opts = NULL;
	int ret;

	if (upper)
		ret = asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s,index=%s%s%s",
			       lower, upper, work, index, extra ? "," : "",
			       extra ?: "");
	else
		ret = asprintf(&opts, "lowerdir=%s,index=%s%s%s", lower, index,
			       extra ? "," : "", extra ?: "");
	if (ret < 0)
		return -ENOMEM;
	ret = mount("none", mnt, fstype, 0, opts) ? -errno : 0;
	free(opts);
	return ret;
}

/* "l0:l1" of @rw, malloc'ed (no ':' in the paths of the fixture) */
static char *ix_lowers(struct rw_env *rw)
{
	char *s = NULL;

	if (asprintf(&s, "%s:%s", rw->e.layers[0], rw->e.layers[1]) < 0)
		return NULL;
	return s;
}

/* The fixture's union with index=on and @extra on its mount point. */
static int ix_mount(struct rw_env *rw, const char *fstype, const char *extra)
{
	char *lower = ix_lowers(rw);
	int ret;

	if (!lower)
		return -ENOMEM;
	ret = ix_mount_at(fstype, rw->e.mnt, lower, rw->upper, rw->work, "on",
			  extra);
	free(lower);
	return ret;
}

static int ix_remount(struct rw_env *rw, const char *fstype, const char *extra)
{
	int ret = rw_umount(rw);

	if (ret)
		return ret;
	drop_caches();
	return ix_mount(rw, fstype, extra);
}

/* Append @s to @path through an O_WRONLY | O_APPEND descriptor. */
static int append(const char *path, const char *s)
{
	return write_str(path, s, O_APPEND);
}

/* WORK/index/@name; WORK/index itself for "" */
static const char *ix_dir(struct rw_env *rw, const char *name)
{
	return pathf("%s/index%s%s", rw->work, *name ? "/" : "", name);
}

static bool ix_temp(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..") || name[0] == '#';
}

/* Entries of WORK/index but temporaries, -errno if it cannot be listed. */
static int index_count(struct rw_env *rw)
{
	DIR *d = opendir(ix_dir(rw, ""));
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (!ix_temp(de->d_name))
			n++;
	closedir(d);
	return n;
}

/*
 * The index entry that is the inode of @path (st_dev and st_ino): its name
 * into @name (if not NULL).  1 if found, 0 if not, -errno.
 */
static int index_entry_of(struct rw_env *rw, const char *path, char *name,
			  size_t size)
{
	struct stat want, st;
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (lstat(path, &want))
		return -errno;
	d = opendir(ix_dir(rw, ""));
	if (!d)
		return -errno;
	while (!found && (de = readdir(d))) {
		if (ix_temp(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (st.st_dev != want.st_dev || st.st_ino != want.st_ino)
			continue;
		found = 1;
		if (name)
			snprintf(name, size, "%s", de->d_name);
	}
	closedir(d);
	return found;
}

/* Lower-case hex of xattr @xname of @path, "<errno>" if it has none. */
static const char *xattr_hex(const char *path, const char *xname)
{
	static char bufs[2][1024];
	static unsigned int next;
	char *buf = bufs[next++ % 2];
	unsigned char v[256];
	ssize_t n = lgetxattr(path, xname, v, sizeof(v));
	ssize_t i;

	if (n < 0) {
		snprintf(buf, sizeof(bufs[0]), "<%s>", strerror(errno));
		return buf;
	}
	for (i = 0; i < n; i++)
		sprintf(buf + 2 * i, "%02x", v[i]);
	buf[2 * n] = '\0';
	return buf;
}

/*
 * Does xattr @xname of @path look like an overlayfs file handle: version
 * 0, magic 0xfb, its own length in byte 2?  0 if so, else why not.
 */
static const char *fh_problem(const char *path, const char *xname)
{
	unsigned char v[256];
	ssize_t n = lgetxattr(path, xname, v, sizeof(v));

	if (n < 0)
		return strerror(errno);
	if (n < 5)
		return "too short for a file handle";
	if (v[0] != 0 || v[1] != 0xfb)
		return "no overlayfs file handle header (0x00 0xfb)";
	if (v[2] != n)
		return "length byte is not the value's length";
	return NULL;
}

/*
 * @n names of one union inode: the same st_dev and st_ino (@ino too,
 * unless 0), st_nlink @nlink and contents @data.
 */
static void expect_one_inode(struct __test_metadata *_metadata,
			     struct rw_env *rw, const char *const *names, int n,
			     nlink_t nlink, ino_t ino, const char *data)
{
	struct stat first = lst(MP(rw, names[0]));
	int i;

	for (i = 0; i < n; i++) {
		struct stat st = lst(MP(rw, names[i]));

		ASSERT_EQ(S_IFREG, st.st_mode & S_IFMT) {
			TH_LOG("%s: %s", names[i], strerror(-lstat_err(MP(rw, names[i]))));
		}
		EXPECT_EQ(first.st_dev, st.st_dev);
		EXPECT_EQ(first.st_ino, st.st_ino) {
			TH_LOG("%s has st_ino %llu, %s %llu: the hard link broke",
			       names[i], (unsigned long long)st.st_ino,
			       names[0], (unsigned long long)first.st_ino);
		}
		if (ino) {
			EXPECT_EQ(ino, st.st_ino) {
				TH_LOG("%s: st_ino changed from %llu to %llu",
				       names[i], (unsigned long long)ino,
				       (unsigned long long)st.st_ino);
			}
		}
		EXPECT_EQ(nlink, st.st_nlink) {
			TH_LOG("%s: st_nlink %lu, want %lu", names[i],
			       (unsigned long)st.st_nlink, (unsigned long)nlink);
		}
		EXPECT_STREQ(data, slurp(MP(rw, names[i]))) {
			TH_LOG("%s: contents", names[i]);
		}
	}
}

#define EXPECT_ONE_INODE(nlink, ino, data, ...) do { \
	static const char *const __n[] = { __VA_ARGS__ }; \
	expect_one_inode(_metadata, RW, __n, ARRAY_LEN(__n), nlink, ino, \
			 data); \
} while (0)

/* ---- the kernel log ------------------------------------------------------ */

/*
 * The kernel log since the fixture's setup: the records of /dev/kmsg, one
 * message a line; @seen is where the messages not yet looked at start.
 */
struct klog {
	int fd;
	char *buf;
	size_t len, seen;
};

static void klog_open(struct klog *k)
{
	memset(k, 0, sizeof(*k));
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd >= 0)
		lseek(k->fd, 0, SEEK_END);
}

static void klog_close(struct klog *k)
{
	if (k->fd >= 0)
		close(k->fd);
	free(k->buf);
	memset(k, 0, sizeof(*k));
	k->fd = -1;
}

/* Append the records logged since the last call. */
static void klog_pull(struct klog *k)
{
	char rec[2048];
	ssize_t n;

	while (k->fd >= 0) {
		size_t mlen;
		char *msg, *p;

		n = read(k->fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		mlen = strcspn(msg, "\n");
		p = realloc(k->buf, k->len + mlen + 2);
		if (!p)
			break;
		k->buf = p;
		memcpy(k->buf + k->len, msg, mlen);
		k->len += mlen;
		k->buf[k->len++] = '\n';
		k->buf[k->len] = '\0';
	}
}

/* The first line from offset @from holding @needle, NULL if none. */
static const char *klog_find(struct klog *k, size_t from, const char *needle)
{
	const char *p;

	klog_pull(k);
	if (!k->buf || from >= k->len)
		return NULL;
	p = strstr(k->buf + from, needle);
	if (!p)
		return NULL;
	while (p > k->buf + from && p[-1] != '\n')
		p--;
	return p;
}

/* Look only at what is logged from now on. */
static void klog_skip(struct klog *k)
{
	klog_pull(k);
	k->seen = k->len;
}

static int line_len(const char *line)
{
	return (int)strcspn(line, "\n");
}

/* The prefix of the messages of @fstype */
static const char *log_prefix(const char *fstype)
{
	return strcmp(fstype, "overlay") ? "cowfs: " : "overlayfs: ";
}

/* ---- the fixture: one union per variant ---------------------------------- */

/*
 * l1 (the bottom lower layer) holds d1/a, d1/b and d2/c, three names of
 * one file, and d1/x, a file of its own; l0 (the top lower layer) is
 * empty.  Upper and work dirs are on the same tmpfs as the layers.
 */
FIXTURE(ix) {
	struct rw_env rw;
	struct klog log;
};

BOTH_FS_VARIANTS(ix);

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)
#define U(rel)	UP(RW, rel)
#define L(rel)	LP(RW, 1, rel)
#define B(rel)	pathf("%s/%s", self->rw.e.base, rel)
#define IX(n)	ix_dir(RW, n)

static int ix_layers(struct rw_env *rw)
{
	return mkfile(LP(rw, 1, "d1/a"), DATA) ?:
	       (link(LP(rw, 1, "d1/a"), LP(rw, 1, "d1/b")) ? -errno : 0) ?:
	       mkdir_p(LP(rw, 1, "d2"), 0755) ?:
	       (link(LP(rw, 1, "d1/a"), LP(rw, 1, "d2/c")) ? -errno : 0) ?:
	       mkfile(LP(rw, 1, "d1/x"), X_DATA);
}

FIXTURE_SETUP(ix)
{
	struct rw_env *rw = &self->rw;

	self->log.fd = -1;
	BOTH_FS_REQUIRE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 2, 0, NULL));
	SETUP_ASSERT0(&rw->e, ix_layers(rw));
	klog_open(&self->log);
}

FIXTURE_TEARDOWN(ix)
{
	klog_close(&self->log);
	rw_cleanup(&self->rw);
}

#define MOUNT_EXTRA(extra) do { \
	int __ret = ix_mount(RW, variant->fstype, extra); \
	ASSERT_EQ(0, __ret) { \
		TH_LOG("mount -t %s -o ...,index=on%s%s: %s", \
		       variant->fstype, (extra) ? "," : "", (extra) ?: "", \
		       strerror(-__ret)); \
	} \
} while (0)
#define MOUNT()		MOUNT_EXTRA(NULL)
#define REMOUNT()	ASSERT_EQ(0, ix_remount(RW, variant->fstype, NULL))

/*
 * A kernel log line of this variant's filesystem since the last check
 * (overlayfs's own words are in the comments at each use).
 */
#define EXPECT_LOGGED(what) do { \
	const char *__l = klog_find(&self->log, self->log.seen, \
				    log_prefix(variant->fstype)); \
	EXPECT_NE(NULL, __l) { \
		TH_LOG("%s: no '%s' line in the kernel log", what, \
		       log_prefix(variant->fstype)); \
	} \
	if (__l) \
		TH_LOG("%s: logged '%.*s'", what, line_len(__l), __l); \
	klog_skip(&self->log); \
} while (0)

/* No splat in the kernel log since the setup */
#define EXPECT_NO_SPLAT() do { \
	static const char *const __bad[] = { "WARNING:", "BUG:", "Oops" }; \
	unsigned int __i; \
	for (__i = 0; __i < ARRAY_LEN(__bad); __i++) { \
		const char *__l = klog_find(&self->log, 0, __bad[__i]); \
		EXPECT_EQ(NULL, __l) { \
			TH_LOG("kernel log: %.*s", line_len(__l), __l); \
		} \
	} \
} while (0)

/* ---- 1. the index dir ---------------------------------------------------- */

TEST_F(ix, mount_makes_index_dir)
{
	struct mnt_info mi;
	char up[1024], origin[1024];
	const char *why;

	MOUNT();
	ASSERT_EQ(S_IFDIR, ftype(IX(""))) {
		TH_LOG("no directory %s", IX(""));
	}
	why = fh_problem(IX(""), OVL_UPPER_XATTR);
	EXPECT_EQ(NULL, why) {
		TH_LOG("%s of WORK/index: %s", OVL_UPPER_XATTR, why);
	}
	why = fh_problem(RW->upper, OVL_ORIGIN_XATTR);
	EXPECT_EQ(NULL, why) {
		TH_LOG("%s of the upper root: %s", OVL_ORIGIN_XATTR, why);
	}
	EXPECT_EQ(0, index_count(RW)) {
		TH_LOG("index entries before any copy-up");
	}
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	EXPECT_NE(NULL, strstr(mi.super_opts, "index=on")) {
		TH_LOG("options shown: %s", mi.super_opts);
	}
	mnt_info_free(&mi);
	/* A remount checks them and leaves them as they are */
	snprintf(up, sizeof(up), "%s", xattr_hex(IX(""), OVL_UPPER_XATTR));
	snprintf(origin, sizeof(origin), "%s",
		 xattr_hex(RW->upper, OVL_ORIGIN_XATTR));
	REMOUNT();
	EXPECT_STREQ(up, xattr_hex(IX(""), OVL_UPPER_XATTR));
	EXPECT_STREQ(origin, xattr_hex(RW->upper, OVL_ORIGIN_XATTR));
}

/* ---- 2. a write keeps the three names one inode -------------------------- */

TEST_F(ix, write_keeps_hard_links)
{
	struct stat a, u;
	char name[256];
	int before;

	MOUNT();
	a = lst(M("d1/a"));
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d1/a", "d1/b", "d2/c");
	before = open(M("d1/b"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, before);
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d1/a", "d1/b", "d2/c");
	/* A descriptor of b opened before the copy-up reads the new data */
	{
		char buf[64] = "";
		ssize_t n = pread(before, buf, sizeof(buf) - 1, 0);

		EXPECT_EQ((ssize_t)strlen(DATA_MORE), n);
		EXPECT_STREQ(DATA_MORE, buf);
	}
	close(before);
	/* One upper file: d1/a, and its index entry is the same inode */
	u = lst(U("d1/a"));
	ASSERT_EQ(S_IFREG, u.st_mode & S_IFMT) {
		TH_LOG("no upper d1/a");
	}
	EXPECT_EQ(2, u.st_nlink) {
		TH_LOG("upper d1/a has %lu links, want 2 (itself, the index entry)",
		       (unsigned long)u.st_nlink);
	}
	EXPECT_STREQ(DATA_MORE, slurp(U("d1/a")));
	ASSERT_EQ(1, index_entry_of(RW, U("d1/a"), name, sizeof(name))) {
		TH_LOG("no entry of WORK/index is upper d1/a's inode");
	}
	EXPECT_EQ(1, index_count(RW));
	/* Its name: the hex of the origin file handle */
	EXPECT_STREQ(name, xattr_hex(U("d1/a"), OVL_ORIGIN_XATTR));
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/b"))) {
		TH_LOG("b was copied up too");
	}
	EXPECT_EQ(-ENOENT, lstat_err(U("d2/c")));
	/* The lower file is untouched */
	EXPECT_STREQ(DATA, slurp(L("d1/a")));
	EXPECT_EQ(3, lst(L("d1/a")).st_nlink);
}

TEST_F(ix, pwrite_through_lower_name)
{
	struct stat c;
	int fd;

	MOUNT();
	c = lst(M("d2/c"));
	fd = open(M("d2/c"), O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, pwrite(fd, "L", 1, 0));
	close(fd);
	EXPECT_ONE_INODE(3, c.st_ino, "Lower data\n", "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(1, index_entry_of(RW, U("d2/c"), NULL, 0));
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/a")));
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/b")));
}

/* ---- 3. metadata through another name ------------------------------------ */

TEST_F(ix, metadata_through_other_name)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	ASSERT_EQ(0, chmod(M("d1/b"), 0600));
	ASSERT_EQ(0, chown(M("d1/b"), 7, 8));
	ASSERT_EQ(0, setxattr(M("d1/b"), "user.k", "v", 1, 0));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(0100600, lst(M("d1/a")).st_mode);
	EXPECT_EQ(0100600, lst(M("d2/c")).st_mode);
	EXPECT_EQ(7, lst(M("d1/a")).st_uid);
	EXPECT_EQ(8, lst(M("d2/c")).st_gid);
	EXPECT_STREQ("v", xattr_str(M("d1/a"), "user.k"));
	EXPECT_STREQ("v", xattr_str(M("d2/c"), "user.k"));
	/* b is linked up: a hard link of the index inode, not a copy */
	EXPECT_EQ(lst(U("d1/a")).st_ino, lst(U("d1/b")).st_ino) {
		TH_LOG("upper d1/b is not upper d1/a's inode");
	}
	EXPECT_EQ(1, index_entry_of(RW, U("d1/b"), NULL, 0));
	EXPECT_EQ(1, index_count(RW));
	EXPECT_EQ(0100644, lst(L("d1/b")).st_mode);
	/* And a write through c is read through a and b */
	ASSERT_EQ(0, append(M("d2/c"), "c\n"));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE "c\n", "d1/a", "d1/b", "d2/c");
	REMOUNT();
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE "c\n", "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(0100600, lst(M("d2/c")).st_mode);
	EXPECT_STREQ("v", xattr_str(M("d2/c"), "user.k"));
}

/* Metadata first, no write: the copy-up is indexed all the same */
TEST_F(ix, chmod_before_any_write)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, chmod(M("d1/b"), 0640));
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(0100640, lst(M("d1/a")).st_mode);
	EXPECT_EQ(1, index_entry_of(RW, U("d1/b"), NULL, 0));
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(1, index_count(RW));
}

/* O_TRUNC through one name, truncate(2) through another */
TEST_F(ix, truncate_through_other_names)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, write_str(M("d1/b"), "new\n", O_TRUNC));
	EXPECT_ONE_INODE(3, a.st_ino, "new\n", "d1/a", "d1/b", "d2/c");
	ASSERT_EQ(0, truncate(M("d2/c"), 2));
	EXPECT_ONE_INODE(3, a.st_ino, "ne", "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(2, lst(M("d1/a")).st_size);
	EXPECT_STREQ(DATA, slurp(L("d1/a")));
}

/* A lower file with one name is copied up as always: no index entry */
TEST_F(ix, single_link_not_indexed)
{
	MOUNT();
	ASSERT_EQ(0, append(M("d1/x"), MORE));
	EXPECT_STREQ(X_DATA MORE, slurp(M("d1/x")));
	EXPECT_EQ(1, lst(M("d1/x")).st_nlink);
	EXPECT_EQ(1, lst(U("d1/x")).st_nlink);
	EXPECT_EQ(0, index_count(RW)) {
		TH_LOG("overlayfs indexes one-link files only with nfs_export=on");
	}
}

/* ---- 4. unlink ----------------------------------------------------------- */

TEST_F_TIMEOUT(ix, unlink_names, 120)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	ASSERT_EQ(0, unlink(M("d1/a")));
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/a")));
	EXPECT_TRUE(is_whiteout(U("d1/a"))) {
		TH_LOG("upper d1/a is not a whiteout");
	}
	EXPECT_ONE_INODE(2, a.st_ino, DATA_MORE, "d1/b", "d2/c");
	EXPECT_EQ(1, index_count(RW)) {
		TH_LOG("the index entry must stay while b and c are there");
	}
	REMOUNT();
	EXPECT_ONE_INODE(2, a.st_ino, DATA_MORE, "d1/b", "d2/c");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/a")));
	ASSERT_EQ(0, unlink(M("d1/b")));
	EXPECT_ONE_INODE(1, a.st_ino, DATA_MORE, "d2/c");
	ASSERT_EQ(0, unlink(M("d2/c")));
	/* The last name gone: the entry goes at once */
	EXPECT_EQ(0, index_count(RW)) {
		TH_LOG("index entry left after the last name was unlinked");
	}
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/b")));
	EXPECT_EQ(-ENOENT, lstat_err(M("d2/c")));
	EXPECT_EQ(1, count_entries(M("d1")));
	EXPECT_EQ(0, count_entries(M("d2")));
	ASSERT_EQ(0, rw_umount(RW));
	/* Nothing but whiteouts in the upper, no entry in the index */
	EXPECT_EQ(0, index_count(RW));
	EXPECT_EQ(2, count_entries(U("d1")));
	EXPECT_TRUE(is_whiteout(U("d1/a")));
	EXPECT_TRUE(is_whiteout(U("d1/b")));
	EXPECT_EQ(1, count_entries(U("d2")));
	EXPECT_TRUE(is_whiteout(U("d2/c")));
	drop_caches();
	MOUNT();
	EXPECT_EQ(0, index_count(RW));
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/a")));
	EXPECT_EQ(-ENOENT, lstat_err(M("d2/c")));
	EXPECT_STREQ(X_DATA, slurp(M("d1/x")));
}

/* An unlink with nothing copied up: the other names lose a link for good */
TEST_F(ix, unlink_of_lower_name)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, unlink(M("d1/b")));
	EXPECT_TRUE(is_whiteout(U("d1/b")));
	EXPECT_ONE_INODE(2, a.st_ino, DATA, "d1/a", "d2/c");
	EXPECT_EQ(1, index_count(RW)) {
		TH_LOG("overlayfs links b up into the index before the whiteout");
	}
	REMOUNT();
	EXPECT_ONE_INODE(2, a.st_ino, DATA, "d1/a", "d2/c");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/b")));
	ASSERT_EQ(0, append(M("d2/c"), MORE));
	EXPECT_ONE_INODE(2, a.st_ino, DATA_MORE, "d1/a", "d2/c");
	EXPECT_EQ(3, lst(L("d1/a")).st_nlink);
}

/* Every name unlinked while a descriptor is open: it still works */
TEST_F(ix, unlink_all_with_open_file)
{
	char buf[64] = "";
	int fd;

	MOUNT();
	fd = open(M("d2/c"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink(M("d1/a")));
	ASSERT_EQ(0, unlink(M("d1/b")));
	ASSERT_EQ(0, unlink(M("d2/c")));
	EXPECT_EQ(0, index_count(RW)) {
		TH_LOG("index entry left after the last name was unlinked");
	}
	EXPECT_EQ((ssize_t)strlen(MORE), pwrite(fd, MORE, strlen(MORE),
						strlen(DATA)));
	EXPECT_EQ((ssize_t)strlen(DATA_MORE), pread(fd, buf, sizeof(buf) - 1, 0));
	EXPECT_STREQ(DATA_MORE, buf);
	{
		struct stat st;

		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(0, st.st_nlink);
	}
	close(fd);
	EXPECT_EQ(-ENOENT, lstat_err(M("d2/c")));
	REMOUNT();
	EXPECT_EQ(0, index_count(RW));
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/a")));
	EXPECT_EQ(-ENOENT, lstat_err(M("d2/c")));
	EXPECT_STREQ(DATA, slurp(L("d2/c")));
}

/* ---- 5. link ------------------------------------------------------------- */

TEST_F(ix, link_adds_a_name)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, link(M("d1/b"), M("d1/e")));
	EXPECT_ONE_INODE(4, a.st_ino, DATA, "d1/a", "d1/b", "d2/c", "d1/e");
	EXPECT_EQ(1, index_count(RW));
	ASSERT_EQ(0, append(M("d1/e"), MORE));
	EXPECT_ONE_INODE(4, a.st_ino, DATA_MORE, "d1/a", "d1/b", "d2/c", "d1/e");
	REMOUNT();
	EXPECT_ONE_INODE(4, a.st_ino, DATA_MORE, "d1/a", "d1/b", "d2/c", "d1/e");
	EXPECT_EQ(-ENOENT, lstat_err(L("d1/e")));
}

/* A name made in the union outlives every lower name */
TEST_F(ix, new_name_outlives_lower_names)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, link(M("d2/c"), M("e")));
	ASSERT_EQ(0, unlink(M("d1/a")));
	ASSERT_EQ(0, unlink(M("d1/b")));
	ASSERT_EQ(0, unlink(M("d2/c")));
	EXPECT_ONE_INODE(1, a.st_ino, DATA, "e");
	EXPECT_EQ(1, index_count(RW));
	REMOUNT();
	EXPECT_ONE_INODE(1, a.st_ino, DATA, "e");
	ASSERT_EQ(0, append(M("e"), MORE));
	EXPECT_ONE_INODE(1, a.st_ino, DATA_MORE, "e");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/a")));
	ASSERT_EQ(0, unlink(M("e")));
	EXPECT_EQ(0, index_count(RW));
	EXPECT_EQ(0, count_entries(M("d2")));
}

/* ---- 6. rename ----------------------------------------------------------- */

TEST_F(ix, rename_over_a_name)
{
	struct stat a, x;

	MOUNT();
	a = lst(M("d1/a"));
	x = lst(M("d1/x"));
	ASSERT_EQ(0, link(M("d1/b"), M("d1/e")));
	ASSERT_EQ(0, rename(M("d1/x"), M("d1/b")));
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d1/a", "d2/c", "d1/e");
	EXPECT_ONE_INODE(1, x.st_ino, X_DATA, "d1/b");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/x")));
	REMOUNT();
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d1/a", "d2/c", "d1/e");
	EXPECT_ONE_INODE(1, x.st_ino, X_DATA, "d1/b");
}

/* Renamed over the last name: the entry goes */
TEST_F(ix, rename_over_last_name)
{
	MOUNT();
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	ASSERT_EQ(0, unlink(M("d1/a")));
	ASSERT_EQ(0, unlink(M("d1/b")));
	EXPECT_EQ(1, index_count(RW));
	ASSERT_EQ(0, rename(M("d1/x"), M("d2/c")));
	EXPECT_STREQ(X_DATA, slurp(M("d2/c")));
	EXPECT_EQ(1, lst(M("d2/c")).st_nlink);
	EXPECT_EQ(0, index_count(RW)) {
		TH_LOG("index entry left after its last name was replaced");
	}
	REMOUNT();
	EXPECT_STREQ(X_DATA, slurp(M("d2/c")));
	EXPECT_EQ(0, count_entries(M("d1")));
	EXPECT_EQ(0, index_count(RW));
}

TEST_F(ix, rename_keeps_the_inode)
{
	struct stat a;

	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, rename(M("d1/b"), M("d2/b2")));
	ASSERT_EQ(0, rename(M("d2/c"), M("d2/c2")));
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d1/a", "d2/b2", "d2/c2");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/b")));
	EXPECT_EQ(-ENOENT, lstat_err(M("d2/c")));
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d1/a", "d2/b2", "d2/c2");
	REMOUNT();
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d1/a", "d2/b2", "d2/c2");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/b")));
	EXPECT_EQ(1, index_count(RW));
}

/* A renamed lower directory (a redirect): its names still share the inode */
TEST_F(ix, rename_of_parent_dir)
{
	struct stat a;

	MOUNT_EXTRA("redirect_dir=on");
	a = lst(M("d1/a"));
	ASSERT_EQ(0, rename(M("d1"), M("d3")));
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d3/a", "d3/b", "d2/c");
	ASSERT_EQ(0, append(M("d2/c"), MORE));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d3/a", "d3/b", "d2/c");
	ASSERT_EQ(0, ix_remount(RW, variant->fstype, "redirect_dir=on"));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d2/c", "d3/b", "d3/a");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1")));
	ASSERT_EQ(0, chmod(M("d3/b"), 0600));
	EXPECT_EQ(0100600, lst(M("d3/a")).st_mode);
	EXPECT_EQ(1, index_count(RW));
}

/* Names copied up at once by many writers: one inode, one entry */
#define NWRITERS	8

TEST_F_TIMEOUT(ix, concurrent_copy_up, 60)
{
	const char *names[3 + NWRITERS] = { "d1/a", "d1/b", "d2/c" };
	pid_t pid[NWRITERS];
	size_t want = strlen(DATA);
	int go[2], i, status;
	struct stat a;

	for (i = 0; i < NWRITERS; i++) {
		names[3 + i] = strdup(pathf("d%d/n%d", 1 + i % 2, i));
		ASSERT_NE(NULL, names[3 + i]);
		ASSERT_EQ(0, link(L("d1/a"), LP(RW, 1, names[3 + i])) ? -errno : 0);
	}
	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(3 + NWRITERS, a.st_nlink);
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < NWRITERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			char c, line[16];

			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			snprintf(line, sizeof(line), "w%d\n", i);
			_exit(append(MP(RW, names[3 + (i + 1) % NWRITERS]),
				     line) ? 1 : 0);
		}
		want += 3;
	}
	close(go[0]);
	close(go[1]);	/* all writers go */
	for (i = 0; i < NWRITERS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("writer %d failed (status %#x)", i, status);
		}
	}
	EXPECT_EQ(1, index_count(RW));
	for (i = 0; i < 3 + NWRITERS; i++) {
		struct stat st = lst(M(names[i]));

		EXPECT_EQ(a.st_ino, st.st_ino) {
			TH_LOG("%s: another inode", names[i]);
		}
		EXPECT_EQ(3 + NWRITERS, st.st_nlink) {
			TH_LOG("%s: st_nlink %lu", names[i],
			       (unsigned long)st.st_nlink);
		}
		EXPECT_EQ(want, (size_t)st.st_size) {
			TH_LOG("%s: %lld bytes, want %zu: a write was lost",
			       names[i], (long long)st.st_size, want);
		}
	}
	REMOUNT();
	for (i = 0; i < 3 + NWRITERS; i++) {
		EXPECT_EQ(3 + NWRITERS, lst(M(names[i])).st_nlink) {
			TH_LOG("%s after the remount", names[i]);
		}
		EXPECT_EQ(want, (size_t)lst(M(names[i])).st_size);
	}
	for (i = 0; i < NWRITERS; i++)
		free((char *)names[3 + i]);
}

/*
 * Names removed and added at once by many processes, some not copied up
 * yet (each removal copies its name up first): the count the union shows
 * and the one kept in the index entry (seen after a remount) must both
 * come out right.  Even children unlink a name of their own, odd ones
 * link two new names.
 */
TEST_F_TIMEOUT(ix, concurrent_unlink_and_link, 60)
{
	const char *names[NWRITERS];
	unsigned int want = 3 + NWRITERS;
	pid_t pid[NWRITERS];
	int go[2], i, status;
	struct stat a;

	for (i = 0; i < NWRITERS; i++) {
		names[i] = strdup(pathf("d%d/n%d", 1 + i % 2, i));
		ASSERT_NE(NULL, names[i]);
		ASSERT_EQ(0, link(L("d1/a"), LP(RW, 1, names[i])) ? -errno : 0);
		want += i % 2 ? 2 : -1;
	}
	MOUNT();
	a = lst(M("d1/a"));
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < NWRITERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			char c;
			int ret;

			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			if (i % 2 == 0)
				_exit(unlink(M(names[i])) ? 1 : 0);
			ret = link(M("d1/b"), M(pathf("d1/x%d", i))) ?:
			      link(M(names[i]), M(pathf("d2/y%d", i)));
			_exit(ret ? 1 : 0);
		}
	}
	close(go[0]);
	close(go[1]);	/* all go */
	for (i = 0; i < NWRITERS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("child %d failed (status %#x)", i, status);
		}
	}
	EXPECT_EQ(1, index_count(RW));
	EXPECT_EQ(a.st_ino, lst(M("d2/c")).st_ino);
	EXPECT_EQ(want, lst(M("d2/c")).st_nlink);
	EXPECT_EQ(want, lst(M("d1/x1")).st_nlink);
	REMOUNT();
	EXPECT_EQ(want, lst(M("d1/a")).st_nlink);
	EXPECT_EQ(want, lst(M("d2/y1")).st_nlink);
	EXPECT_EQ(a.st_ino, lst(M("d2/y1")).st_ino);
	for (i = 0; i < NWRITERS; i++) {
		EXPECT_EQ(i % 2 ? 0 : -ENOENT, lstat_err(M(names[i])));
		free((char *)names[i]);
	}
}

/*
 * An xattr set through a name not copied up, once the file has an upper
 * object, goes to that object: the name is not linked up (overlayfs's
 * ovl_xattr_set()).  Removing an xattr a lower file does not have copies
 * nothing up (ENODATA).
 */
TEST_F(ix, xattr_through_other_name_links_nothing)
{
	char v[8] = "";

	MOUNT();
	EXPECT_EQ(-ENODATA, removexattr(M("d1/b"), "user.none") ? -errno : 0);
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/b")));
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/a")));
	ASSERT_EQ(0, chmod(M("d1/a"), 0604));
	ASSERT_EQ(0, setxattr(M("d1/b"), "user.k", "v", 1, 0) ? -errno : 0);
	EXPECT_EQ(1, getxattr(M("d2/c"), "user.k", v, sizeof(v)));
	EXPECT_STREQ("v", v);
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/b")));
	EXPECT_EQ(-ENOENT, lstat_err(U("d2/c")));
	EXPECT_EQ(2, lst(U("d1/a")).st_nlink);
	REMOUNT();
	EXPECT_EQ(1, getxattr(M("d1/b"), "user.k", v, sizeof(v)));
	EXPECT_EQ(3, lst(M("d1/b")).st_nlink);
}

/* ---- 7. remount ---------------------------------------------------------- */

/* a written (copied up), b linked up by a chmod, c only in the lower layer */
TEST_F(ix, remount_keeps_links)
{
	struct stat a;

	MOUNT();
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	ASSERT_EQ(0, chmod(M("d1/b"), 0604));
	a = lst(M("d1/a"));
	EXPECT_EQ(-ENOENT, lstat_err(U("d2/c")));
	REMOUNT();
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d2/c", "d1/b", "d1/a");
	EXPECT_EQ(0100604, lst(M("d2/c")).st_mode);
	/* Looked up in another order after a second remount */
	REMOUNT();
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d1/a", "d2/c", "d1/b");
	EXPECT_EQ(1, index_count(RW));
	/* The same with index=off: lower names show the lower file */
	ASSERT_EQ(0, rw_umount(RW));
	drop_caches();
	{
		char *lower = ix_lowers(RW);

		ASSERT_NE(NULL, lower);
		ASSERT_EQ(0, ix_mount_at(variant->fstype, RW->e.mnt, lower,
					 RW->upper, RW->work, "off", NULL));
		free(lower);
	}
	EXPECT_STREQ(DATA_MORE, slurp(M("d1/a")));
	EXPECT_STREQ(DATA, slurp(M("d2/c")));
	EXPECT_NE(lst(M("d1/a")).st_ino, lst(M("d2/c")).st_ino);
}

/* ---- 8. a second mount of the same upper --------------------------------- */

TEST_F_TIMEOUT(ix, second_mount_busy, 60)
{
	char *lower = ix_lowers(RW);
	const char *m2 = B("m2");
	char other[PATH_MAX], ow[PATH_MAX];
	int ret;

	ASSERT_NE(NULL, lower);
	ASSERT_EQ(0, mkdir_p(m2, 0755));
	snprintf(other, sizeof(other), "%s", B("u2"));
	snprintf(ow, sizeof(ow), "%s", B("w2"));
	ASSERT_EQ(0, mkdir_p(other, 0755));
	ASSERT_EQ(0, mkdir_p(ow, 0755));
	MOUNT();
	klog_skip(&self->log);
	ret = ix_mount_at(variant->fstype, m2, lower, RW->upper, RW->work,
			  "on", NULL);
	EXPECT_EQ(-EBUSY, ret) {
		TH_LOG("same upperdir and workdir, index=on: %s", strerror(-ret));
	}
	EXPECT_LOGGED("same upperdir and workdir");
	/* The upper alone, or the workdir alone */
	ret = ix_mount_at(variant->fstype, m2, lower, RW->upper, ow, "on", NULL);
	EXPECT_EQ(-EBUSY, ret) {
		TH_LOG("same upperdir, index=on: %s", strerror(-ret));
	}
	if (!ret)
		umount2(m2, 0);
	ret = ix_mount_at(variant->fstype, m2, lower, other, RW->work, "on",
			  NULL);
	EXPECT_EQ(-EBUSY, ret) {
		TH_LOG("same workdir, index=on: %s", strerror(-ret));
	}
	if (!ret)
		umount2(m2, 0);
	/* index=off: overlayfs warns and mounts, cowfs refuses (documented) */
	klog_skip(&self->log);
	ret = ix_mount_at(variant->fstype, m2, lower, RW->upper, RW->work,
			  "off", NULL);
	EXPECT_EQ(strcmp(variant->fstype, "overlay") ? -EBUSY : 0, ret) {
		TH_LOG("same upperdir and workdir, index=off: %s", strerror(-ret));
	}
	EXPECT_LOGGED("same upperdir and workdir, index=off");
	if (!ret) {
		EXPECT_EQ(0, umount2(m2, 0));
	}
	/* The first mount is unharmed */
	EXPECT_ONE_INODE(3, 0, DATA, "d1/a", "d1/b", "d2/c");
	free(lower);
}

/* ---- 10. mounts that do not match what was recorded ---------------------- */

TEST_F_TIMEOUT(ix, other_lower_root_refused, 60)
{
	char lower[2 * PATH_MAX];
	int ret;

	MOUNT();
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mkdir_p(B("l9"), 0755));
	snprintf(lower, sizeof(lower), "%s:%s", B("l9"), RW->e.layers[1]);
	drop_caches();
	klog_skip(&self->log);
	ret = ix_mount_at(variant->fstype, RW->e.mnt, lower, RW->upper,
			  RW->work, "on", NULL);
	EXPECT_EQ(-ESTALE, ret) {
		TH_LOG("other top lower layer, index=on: %s", strerror(-ret));
	}
	EXPECT_LOGGED("other lower root");
	if (!ret)
		umount2(RW->e.mnt, 0);
	/* The bottom layer alone is another lower root too */
	ret = ix_mount_at(variant->fstype, RW->e.mnt, RW->e.layers[1],
			  RW->upper, RW->work, "on", NULL);
	EXPECT_EQ(-ESTALE, ret) {
		TH_LOG("bottom layer alone, index=on: %s", strerror(-ret));
	}
	if (!ret)
		umount2(RW->e.mnt, 0);
	/* Without the index nothing is checked */
	ret = ix_mount_at(variant->fstype, RW->e.mnt, lower, RW->upper,
			  RW->work, "off", NULL);
	EXPECT_EQ(0, ret) {
		TH_LOG("other lower layer, index=off: %s", strerror(-ret));
	}
	if (!ret) {
		EXPECT_STREQ(DATA_MORE, slurp(M("d1/a")));
		EXPECT_EQ(0, rw_umount(RW));
	}
	/* And the right layers still mount */
	MOUNT();
	EXPECT_ONE_INODE(3, 0, DATA_MORE, "d1/a", "d1/b", "d2/c");
}

/* WORK/index of an upper carrying another upper's trusted.overlay.upper */
TEST_F_TIMEOUT(ix, foreign_index_dir_refused, 60)
{
	char *lower = ix_lowers(RW);
	char u2[PATH_MAX], w2[PATH_MAX];
	unsigned char v[256];
	ssize_t n;
	int ret;

	ASSERT_NE(NULL, lower);
	snprintf(u2, sizeof(u2), "%s", B("u2"));
	snprintf(w2, sizeof(w2), "%s", B("w2"));
	ASSERT_EQ(0, mkdir_p(u2, 0755));
	ASSERT_EQ(0, mkdir_p(w2, 0755));
	ret = ix_mount_at(variant->fstype, RW->e.mnt, lower, u2, w2, "on",
			  NULL);
	ASSERT_EQ(0, ret) {
		TH_LOG("mount over u2, w2: %s", strerror(-ret));
	}
	ASSERT_EQ(0, rw_umount(RW));
	n = lgetxattr(pathf("%s/index", w2), OVL_UPPER_XATTR, v, sizeof(v));
	ASSERT_LT(0, n) {
		TH_LOG("w2/index has no %s", OVL_UPPER_XATTR);
	}
	ASSERT_EQ(0, mkdir_p(IX(""), 0755));
	ASSERT_EQ(0, set_x(IX(""), OVL_UPPER_XATTR, v, n));
	drop_caches();
	klog_skip(&self->log);
	ret = ix_mount(RW, variant->fstype, NULL);
	EXPECT_EQ(-ESTALE, ret) {
		TH_LOG("index dir of another upper: %s", strerror(-ret));
	}
	EXPECT_LOGGED("index dir of another upper");
	if (!ret)
		umount2(RW->e.mnt, 0);
	EXPECT_STREQ(xattr_hex(pathf("%s/index", w2), OVL_UPPER_XATTR),
		     xattr_hex(IX(""), OVL_UPPER_XATTR));
	/* index=off does not look at it */
	ret = ix_mount_at(variant->fstype, RW->e.mnt, lower, RW->upper,
			  RW->work, "off", NULL);
	EXPECT_EQ(0, ret);
	if (!ret) {
		EXPECT_EQ(0, rw_umount(RW));
	}
	free(lower);
}

/* A trusted.overlay.upper that is no file handle: overwritten, mounts */
TEST_F(ix, garbage_index_dir_xattr_replaced)
{
	const char *why;

	ASSERT_EQ(0, mkdir_p(IX(""), 0755));
	ASSERT_EQ(0, set_x(IX(""), OVL_UPPER_XATTR, "\x01\x02", 2));
	MOUNT();
	why = fh_problem(IX(""), OVL_UPPER_XATTR);
	EXPECT_EQ(NULL, why) {
		TH_LOG("%s of WORK/index after the mount: %s",
		       OVL_UPPER_XATTR, why);
	}
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	EXPECT_ONE_INODE(3, 0, DATA_MORE, "d1/a", "d1/b", "d2/c");
}

TEST_F(ix, index_on_without_upper)
{
	char *lower = ix_lowers(RW);
	struct mnt_info mi;
	int ret;

	ASSERT_NE(NULL, lower);
	ret = ix_mount_at(variant->fstype, RW->e.mnt, lower, NULL, NULL, "on",
			  NULL);
	free(lower);
	ASSERT_EQ(0, ret) {
		TH_LOG("lowerdir=l0:l1,index=on: %s", strerror(-ret));
	}
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	EXPECT_EQ(NULL, strstr(mi.super_opts, "index=on")) {
		TH_LOG("options shown: %s", mi.super_opts);
	}
	EXPECT_EQ(0, strncmp(mi.super_opts, "ro", 2)) {
		TH_LOG("not read-only: %s", mi.super_opts);
	}
	mnt_info_free(&mi);
	EXPECT_EQ(-EROFS, write_str(M("d1/a"), MORE, O_APPEND));
	EXPECT_ONE_INODE(3, lst(M("d1/a")).st_ino, DATA, "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(0, count_entries(RW->work));
	EXPECT_EQ(0, count_entries(RW->upper));
}

/* ---- 11. hostile index entries ------------------------------------------- */

/*
 * With overlayfs (the reference): write through d1/a and d1/x, unmount,
 * and give the name of d1/a's index entry in @name.
 */
static int ix_plant(struct rw_env *rw, char *name, size_t size)
{
	int ret;

	if (!have_overlay())
		return -ENODEV;
	ret = ix_mount(rw, "overlay", NULL);
	if (ret)
		return ret;
	ret = append(MP(rw, "d1/a"), MORE) ?: append(MP(rw, "d1/x"), MORE);
	if (!ret && index_entry_of(rw, UP(rw, "d1/a"), name, size) != 1)
		ret = -ENOENT;
	if (rw_umount(rw) && !ret)
		ret = -EBUSY;
	drop_caches();
	return ret;
}

#define PLANT(name) do { \
	int __ret = ix_plant(RW, name, sizeof(name)); \
	ASSERT_EQ(0, __ret) { \
		TH_LOG("making an index entry with overlayfs: %s", \
		       strerror(-__ret)); \
	} \
	klog_skip(&self->log); \
} while (0)

/* Every name of the file fails with EIO; the others are fine. */
static void expect_eio(struct __test_metadata *_metadata, struct rw_env *rw)
{
	static const char *const names[] = { "d1/a", "d1/b", "d2/c" };
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(names); i++) {
		EXPECT_EQ(-EIO, lstat_err(MP(rw, names[i]))) {
			TH_LOG("lstat %s: %s", names[i],
			       strerror(-lstat_err(MP(rw, names[i]))));
		}
		EXPECT_EQ(-EIO, open_err(MP(rw, names[i])));
	}
	EXPECT_STREQ(X_DATA MORE, slurp(MP(rw, "d1/x")));
}

TEST_F_TIMEOUT(ix, hostile_entry_directory, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, unlink(IX(name)));
	ASSERT_EQ(0, mkdir(IX(name), 0755));
	MOUNT();
	expect_eio(_metadata, RW);
	EXPECT_EQ(S_IFDIR, ftype(IX(name)));
	EXPECT_NO_SPLAT();
}

TEST_F_TIMEOUT(ix, hostile_entry_whiteout, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, unlink(IX(name)));
	ASSERT_EQ(0, mkwhiteout(IX(name)));
	MOUNT();
	expect_eio(_metadata, RW);
	EXPECT_NO_SPLAT();
}

/*
 * Entries with no origin to check their name against: overlayfs refuses
 * the mount (ENODATA, "failed index dir cleanup (-61)").
 */
#define EXPECT_ENTRY_REFUSED(what) do { \
	int __ret = ix_mount(RW, variant->fstype, NULL); \
	EXPECT_EQ(-ENODATA, __ret) { \
		TH_LOG("index entry with %s: %s", what, strerror(-__ret)); \
	} \
	EXPECT_LOGGED(what); \
	if (!__ret) { \
		TH_LOG("%s: mounted; d1/a reads '%s', WORK/index has %d entries", \
		       what, slurp(M("d1/a")), index_count(RW)); \
		EXPECT_EQ(0, rw_umount(RW)); \
	} \
	EXPECT_NO_SPLAT(); \
} while (0)

TEST_F_TIMEOUT(ix, hostile_entry_fifo, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, unlink(IX(name)));
	ASSERT_EQ(0, mkfifo(IX(name), 0644));
	EXPECT_ENTRY_REFUSED("a fifo");
}

TEST_F_TIMEOUT(ix, hostile_entry_file_of_its_own, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, unlink(IX(name)));
	ASSERT_EQ(0, mkfile(IX(name), "other\n"));
	EXPECT_ENTRY_REFUSED("a regular file without origin");
}

/* d1/a's inode (the entry) without its trusted.overlay.origin */
TEST_F_TIMEOUT(ix, hostile_entry_no_origin_xattr, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, lremovexattr(IX(name), OVL_ORIGIN_XATTR));
	EXPECT_ENTRY_REFUSED("no origin xattr");
}

/* ... or with one that is no file handle: overlayfs takes it as none */
TEST_F_TIMEOUT(ix, hostile_entry_garbage_origin, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, set_x(IX(name), OVL_ORIGIN_XATTR, "\x00\xfb\x01\x02", 4));
	EXPECT_ENTRY_REFUSED("an origin that is no file handle");
}

/*
 * An entry whose origin is another file's (d1/x's): an inode of its own,
 * not linked to d1/a.  Stale: deleted at mount.
 */
TEST_F_TIMEOUT(ix, hostile_entry_other_origin, 60)
{
	unsigned char v[256];
	char name[256];
	struct stat a, b;
	ssize_t n;

	PLANT(name);
	n = lgetxattr(U("d1/x"), OVL_ORIGIN_XATTR, v, sizeof(v));
	ASSERT_LT(0, n);
	ASSERT_EQ(0, unlink(IX(name)));
	ASSERT_EQ(0, mkfile(IX(name), "other\n"));
	ASSERT_EQ(0, set_x(IX(name), OVL_ORIGIN_XATTR, v, n));
	ASSERT_EQ(0, set_x(IX(name), OVL_NLINK_XATTR, "U+1", 3));
	MOUNT();
	EXPECT_EQ(0, index_count(RW)) {
		TH_LOG("the stale entry is still there");
	}
	/* a is its upper file alone; b and c the lower file */
	a = lst(M("d1/a"));
	b = lst(M("d1/b"));
	EXPECT_STREQ(DATA_MORE, slurp(M("d1/a")));
	EXPECT_EQ(1, a.st_nlink);
	EXPECT_NE(a.st_ino, b.st_ino);
	EXPECT_ONE_INODE(3, b.st_ino, DATA, "d1/b", "d2/c");
	EXPECT_STREQ(X_DATA MORE, slurp(M("d1/x")));
	EXPECT_NO_SPLAT();
}

/* Garbage in trusted.overlay.nlink: the names keep one sane st_nlink */
TEST_F_TIMEOUT(ix, hostile_entry_nlink, 120)
{
	static const char *const bad[] = {
		"X+1", "U+99999999999", "L-5", "U+2147483647", "",
		"L+2147483647", "U-2",
	};
	char name[256];
	unsigned int i;

	PLANT(name);
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		struct stat a;

		ASSERT_EQ(0, set_x(IX(name), OVL_NLINK_XATTR, bad[i],
				   strlen(bad[i])));
		MOUNT();
		a = lst(M("d1/a"));
		EXPECT_LT(0, a.st_nlink);
		EXPECT_GT(1000, a.st_nlink) {
			TH_LOG("nlink '%s': st_nlink %lu", bad[i],
			       (unsigned long)a.st_nlink);
		}
		/* overlayfs: the upper inode's, index entry and d1/a */
		if (!strcmp(variant->fstype, "overlay")) {
			EXPECT_EQ(2, a.st_nlink) {
				TH_LOG("nlink '%s'", bad[i]);
			}
		}
		EXPECT_ONE_INODE(a.st_nlink, a.st_ino, DATA_MORE, "d1/a",
				 "d1/b", "d2/c");
		ASSERT_EQ(0, rw_umount(RW));
		drop_caches();
	}
	EXPECT_NO_SPLAT();
}

/* An entry with one link whose xattr says no union link is left */
TEST_F_TIMEOUT(ix, orphan_entry_removed, 60)
{
	char name[256];

	PLANT(name);
	ASSERT_EQ(0, unlink(U("d1/a")));
	ASSERT_EQ(1, lst(IX(name)).st_nlink);
	ASSERT_EQ(0, set_x(IX(name), OVL_NLINK_XATTR, "U-1", 3));
	MOUNT();
	EXPECT_EQ(-ENOENT, lstat_err(IX(name))) {
		TH_LOG("the orphan entry was not removed at mount");
	}
	EXPECT_EQ(0, index_count(RW));
	EXPECT_ONE_INODE(3, 0, DATA, "d1/a", "d1/b", "d2/c");
	EXPECT_NO_SPLAT();
}

/* ---- 12. metacopy=on with index=on --------------------------------------- */

TEST_F(ix, metacopy_index)
{
	struct stat a;
	char name[256];

	MOUNT_EXTRA("redirect_dir=on,metacopy=on");
	a = lst(M("d1/a"));
	ASSERT_EQ(0, chmod(M("d1/b"), 0600));
	ASSERT_EQ(1, index_entry_of(RW, U("d1/b"), name, sizeof(name))) {
		TH_LOG("the chmod made no index entry for d1/b");
	}
	EXPECT_TRUE(has_metacopy(IX(name))) {
		TH_LOG("index entry has no %s", OVL_METACOPY_XATTR);
	}
	EXPECT_EQ(-ENOENT, lstat_err(U("d1/a")));
	EXPECT_ONE_INODE(3, a.st_ino, DATA, "d1/a", "d1/b", "d2/c");
	EXPECT_EQ(0100600, lst(M("d2/c")).st_mode);
	/* The write through a copies the data into the index inode */
	ASSERT_EQ(0, append(M("d1/a"), MORE));
	EXPECT_FALSE(has_metacopy(IX(name)));
	EXPECT_STREQ(DATA_MORE, slurp(IX(name)));
	EXPECT_EQ(1, index_entry_of(RW, U("d1/a"), NULL, 0));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d2/c", "d1/a", "d1/b");
	EXPECT_EQ(1, index_count(RW));
	ASSERT_EQ(0, ix_remount(RW, variant->fstype,
				"redirect_dir=on,metacopy=on"));
	EXPECT_ONE_INODE(3, a.st_ino, DATA_MORE, "d2/c", "d1/a", "d1/b");
}

/* ---- 9. one on-disk format: an index written by one, used by the other --- */

INTEROP_FIXTURE(ixio)

FIXTURE_SETUP(ixio)
{
	struct rw_env *rw = &self->rw;

	INTEROP_REQUIRE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 2, 0, NULL));
	SETUP_ASSERT0(&rw->e, ix_layers(rw));
}

static int io_mount(struct rw_env *rw, const char *fstype)
{
	drop_caches();
	return ix_mount(rw, fstype, NULL);
}

TEST_F_TIMEOUT(ixio, index_upper, 120)
{
	struct stat a, c;
	int fd, ret;

	ret = io_mount(RW, variant->writer);
	ASSERT_EQ(0, ret) {
		TH_LOG("writer %s: %s", variant->writer, strerror(-ret));
	}
	fd = open(M("d1/a"), O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "L", 1, 0));
	close(fd);
	ASSERT_EQ(0, unlink(M("d1/b")));
	ASSERT_EQ(0, link(M("d1/a"), M("d2/e")));
	EXPECT_ONE_INODE(3, 0, "Lower data\n", "d1/a", "d2/c", "d2/e");
	ASSERT_EQ(0, rw_umount(RW));

	/* The writer's upper: the overlayfs format */
	EXPECT_TRUE(is_whiteout(U("d1/b")));
	EXPECT_EQ(1, index_count(RW));
	EXPECT_EQ(1, index_entry_of(RW, U("d1/a"), NULL, 0));
	EXPECT_EQ(1, index_entry_of(RW, U("d2/e"), NULL, 0));
	EXPECT_EQ(-ENOENT, lstat_err(U("d2/c")));

	ret = io_mount(RW, variant->reader);
	ASSERT_EQ(0, ret) {
		TH_LOG("reader %s: %s", variant->reader, strerror(-ret));
	}
	a = lst(M("d1/a"));
	EXPECT_ONE_INODE(3, a.st_ino, "Lower data\n", "d2/c", "d1/a", "d2/e");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/b")));
	/* A write through the name still lower reaches the indexed inode */
	ASSERT_EQ(0, append(M("d2/c"), MORE));
	EXPECT_ONE_INODE(3, a.st_ino, "Lower data\n" MORE, "d1/a", "d2/e",
			 "d2/c");
	c = lst(U("d2/c"));
	EXPECT_EQ(lst(U("d1/a")).st_ino, c.st_ino) {
		TH_LOG("upper d2/c is not the indexed inode");
	}
	EXPECT_EQ(1, index_count(RW));
	ASSERT_EQ(0, rw_umount(RW));

	/* And the writer reads that back */
	ASSERT_EQ(0, io_mount(RW, variant->writer));
	EXPECT_ONE_INODE(3, 0, "Lower data\n" MORE, "d1/a", "d2/c", "d2/e");
	EXPECT_EQ(-ENOENT, lstat_err(M("d1/b")));
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_STREQ(DATA, slurp(L("d1/a")));
}

TEST_HARNESS_MAIN
