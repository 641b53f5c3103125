// SPDX-License-Identifier: GPL-2.0
/*
 * copyup=partial: the first open for write (not O_TRUNC) of a lower
 * regular file of at least 1 MiB copies up its metadata and a sparse upper
 * file of the lower size; each write then first copies the 64 KiB granules
 * it touches (whole) from the lower file.  The upper file carries
 * trusted.overlay.origin, trusted.overlay.cowfs.partial (version, granule
 * shift, number of granules, limit, then a bitmap of the granules it
 * holds) and a 1 byte trusted.overlay.metacopy, which overlayfs refuses
 * (EIO).  mmap, fallocate, SEEK_DATA/SEEK_HOLE, a truncate to a non-zero
 * size and POSIX_FADV_WILLNEED over the whole file complete the file
 * first (every missing granule copied, both xattrs removed).
 *
 * Every case runs on copyup=partial (upper on tmpfs, and on ext4 on a
 * loop device) and on copyup=full, the reference: what the user sees must
 * be the same, byte for byte, as an in-memory model of each file built
 * from the lower data and the writes.  On disk the partial variants also
 * check the xattrs, the bitmap (exactly the granules written), that the
 * upper file holds those granules and holes elsewhere, and its st_blocks.
 *
 *  1. the option in mountinfo; metacopy=on and verity= refused (EINVAL)
 *  2. a 4 KiB write copies one granule
 *  3. writes across granule boundaries, at the last (short) granule, with
 *     O_APPEND, beyond EOF; the 1 MiB threshold (smaller files whole)
 *  4. remount, also with copyup=full
 *  5. mmap (read, MAP_PRIVATE, MAP_SHARED write) completes the file
 *  6. truncate, fallocate, SEEK_DATA/SEEK_HOLE, POSIX_FADV_WILLNEED
 *  7. O_DIRECT reads over holding and missing granules, O_DIRECT writes
 *  8. rename, link, unlink of a partial file, remounts
 *  9. concurrent writers (own granules, shared granules) and readers
 * 10. a descriptor opened before the first write reads the writes
 * 11. overlayfs on the same upper: EIO for a partial file, the data of a
 *     completed one
 * 12. hostile layers: partial xattrs in a lower layer, corrupt partial
 *     xattrs, a missing or stale origin
 *
 * The cowfs variants fail, not skip, while cowfs refuses copyup=.
 * Run with: make test T=partial_test
 */
#include "kselftest_harness.h"
#include "metacopy_util.h"

#include <endian.h>
#include <signal.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>

#define KB			1024
#define MB			(1024 * 1024)
#define GRAN			(64 * KB)
#define GRAN_SHIFT		16
#define PARTIAL_XATTR		"trusted.overlay.cowfs.partial"
#define PX_HDR			16	/* bytes before the bitmap */
#define BIG			(4 * MB)
#define HUGE			(64 * MB)
#define SMALL			(100 * KB)
#define CHUNK			MB

#define SEED_BIG		0x0b16f00d
#define SEED_SMALL		0x05a11f00
#define SEED_MB			0x00100000
#define SEED_MB1		0x00100001
#define SEED_UNDER		0x000fffff
#define SEED_OTHER		0x07e4f00d

#define DIV_UP(a, b)		(((a) + (b) - 1) / (b))

/* ---- the lower files and a model of each union file ---------------------- */

/* The patterned extents of "huge", holes elsewhere. */
static const struct {
	size_t off, len;
	uint32_t seed;
} huge_ext[] = {
	{ 0, 256 * KB, 0x4001 },
	{ 10 * MB + 12345, 300000, 0x4002 },
	{ 40 * MB, MB, 0x4003 },
	{ HUGE - 100 * KB, 100 * KB, 0x4004 },
};

static const struct {
	const char *name;
	size_t len;
	uint32_t seed;		/* 0: "huge", sparse */
} lfiles[] = {
	{ "big", BIG, SEED_BIG },
	{ "huge", HUGE, 0 },
	{ "small", SMALL, SEED_SMALL },
	{ "mb", MB, SEED_MB },
	{ "mb1", MB + 1, SEED_MB1 },
	{ "under", MB - 1, SEED_UNDER },
};

/* What a file should hold: @len bytes at @b. */
struct model {
	unsigned char *b;
	size_t len, cap;
};

static int model_reserve(struct model *m, size_t len)
{
	unsigned char *b;
	size_t cap = m->cap ? m->cap : MB;

	if (len <= m->cap)
		return 0;
	while (cap < len)
		cap *= 2;
	b = realloc(m->b, cap);
	if (!b)
		return -ENOMEM;
	memset(b + m->cap, 0, cap - m->cap);
	m->b = b;
	m->cap = cap;
	return 0;
}

static void model_free(struct model *m)
{
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* As truncate(2): new bytes are zeros. */
static int model_truncate(struct model *m, size_t len)
{
	int ret = model_reserve(m, len);

	if (ret)
		return ret;
	if (len > m->len)
		memset(m->b + m->len, 0, len - m->len);
	m->len = len;
	return 0;
}

static int model_write(struct model *m, size_t off, const void *buf,
		       size_t len)
{
	int ret = 0;

	if (off + len > m->len)
		ret = model_truncate(m, off + len);
	if (!ret)
		memcpy(m->b + off, buf, len);
	return ret;
}

static void model_zero(struct model *m, size_t off, size_t len)
{
	if (off >= m->len)
		return;
	if (off + len > m->len)
		len = m->len - off;
	memset(m->b + off, 0, len);
}

static int lfile_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(lfiles); i++)
		if (!strcmp(lfiles[i].name, name))
			return i;
	return -1;
}

/* The model of lower file @name (one of lfiles[]). */
static int model_lower(struct model *m, const char *name)
{
	int i = lfile_index(name), ret;
	unsigned int e;

	model_free(m);
	if (i < 0)
		return -ENOENT;
	ret = model_truncate(m, lfiles[i].len);
	if (ret)
		return ret;
	if (lfiles[i].seed) {
		fill_pattern(m->b, m->len, lfiles[i].seed);
		return 0;
	}
	for (e = 0; e < ARRAY_LEN(huge_ext); e++)
		fill_pattern(m->b + huge_ext[e].off, huge_ext[e].len,
			     huge_ext[e].seed);
	return 0;
}

/* Write lower file @name of lfiles[] at @path (sparse where it has holes). */
static int make_lower(const char *path, const char *name)
{
	int i = lfile_index(name), fd, ret = 0;
	struct model m = { 0 };
	unsigned int e;

	if (i < 0)
		return -ENOENT;
	if (lfiles[i].seed)
		return mkpat(path, lfiles[i].seed, lfiles[i].len);
	ret = model_lower(&m, name) ?: mkparent(path);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		model_free(&m);
		return -errno;
	}
	if (ftruncate(fd, m.len))
		ret = -errno;
	for (e = 0; !ret && e < ARRAY_LEN(huge_ext); e++)
		if (pwrite(fd, m.b + huge_ext[e].off, huge_ext[e].len,
			   huge_ext[e].off) != (ssize_t)huge_ext[e].len)
			ret = -EIO;
	close(fd);
	model_free(&m);
	return ret;
}

/*
 * Compare what @fd reads from offset 0 with @m: 0 if the same, -errno if
 * a read fails, else 1 + the first offset that differs (or where one of
 * the two ends).
 */
static long long model_diff_fd(int fd, const struct model *m)
{
	unsigned char *buf = malloc(CHUNK);
	long long ret = 0;
	size_t off = 0, cmp, i;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = pread(fd, buf, CHUNK, off);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		cmp = off >= m->len ? 0 :
		      off + n <= m->len ? (size_t)n : m->len - off;
		if (memcmp(buf, m->b + off, cmp)) {
			for (i = 0; buf[i] == m->b[off + i]; i++)
				;
			ret = 1 + off + i;
			break;
		}
		if (cmp < (size_t)n) {
			ret = 1 + m->len;	/* longer */
			break;
		}
		off += n;
	}
	if (!ret && off != m->len)
		ret = 1 + off;			/* shorter */
	free(buf);
	return ret;
}

static long long model_diff(const char *path, const struct model *m)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long long ret;

	if (fd < 0)
		return -errno;
	ret = model_diff_fd(fd, m);
	close(fd);
	return ret;
}

static void log_diff(struct __test_metadata *_metadata, const char *what,
		     long long d, const struct model *m)
{
	if (d < 0)
		TH_LOG("%s: %s", what, strerror((int)-d));
	else if (d > 0)
		TH_LOG("%s: differs from byte %lld on (expected size %zu)",
		       what, d - 1, m->len);
}

/* What @path reads is @m, and stat says its size. */
#define EXPECT_MODEL(path, m) do {					\
	const char *__p = (path);					\
	long long __d = model_diff(__p, (m));				\
	EXPECT_EQ(0, __d) {						\
		log_diff(_metadata, __p, __d, (m));			\
	}								\
	EXPECT_EQ((off_t)(m)->len, lst(__p).st_size) {			\
		TH_LOG("%s: st_size", __p);				\
	}								\
} while (0)

#define EXPECT_MODEL_FD(fd, m) do {					\
	long long __d = model_diff_fd((fd), (m));			\
	EXPECT_EQ(0, __d) {						\
		log_diff(_metadata, "fd " #fd, __d, (m));		\
	}								\
} while (0)

/* The bytes a write at @off of @len carries: the same for both variants. */
static uint32_t wseed(size_t off, size_t len)
{
	return (uint32_t)(off * 2654435761u + len * 40503u) | 1;
}

/* pwrite @len bytes of fill_pattern(wseed()) at @off to @fd and to @m. */
static int pw(int fd, struct model *m, size_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	ssize_t n;
	int ret;

	if (!buf)
		return -ENOMEM;
	fill_pattern(buf, len, wseed(off, len));
	n = pwrite(fd, buf, len, off);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	else
		ret = model_write(m, off, buf, len);
	free(buf);
	return ret;
}

/* The same through a new O_RDWR descriptor of @path. */
static int pw_path(const char *path, struct model *m, size_t off, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = pw(fd, m, off, len);
	close(fd);
	return ret;
}

/* Append @len bytes (O_APPEND) to @path and to @m. */
static int append(const char *path, struct model *m, size_t len)
{
	unsigned char *buf = malloc(len);
	int fd, ret;

	if (!buf)
		return -ENOMEM;
	fill_pattern(buf, len, wseed(m->len, len));
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	ret = write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	if (!ret)
		ret = model_write(m, m->len, buf, len);
	free(buf);
	return ret;
}

/* ---- the on-disk format of a partial upper file -------------------------- */

struct px {
	ssize_t len;		/* of the xattr */
	uint8_t version, shift;
	uint16_t pad;
	uint32_t n;		/* granules */
	uint64_t limit;		/* granules may be missing below this offset */
	size_t bmlen;
	unsigned char raw[PX_HDR + 65536];
};

/* Read and decode the partial xattr of @path: 0, or -errno. */
static int get_px(const char *path, struct px *px)
{
	uint16_t pad;
	uint32_t n;
	uint64_t limit;

	memset(px, 0, offsetof(struct px, raw));
	px->len = lgetxattr(path, PARTIAL_XATTR, px->raw, sizeof(px->raw));
	if (px->len < 0)
		return -errno;
	if (px->len < PX_HDR)
		return -EINVAL;
	px->version = px->raw[0];
	px->shift = px->raw[1];
	memcpy(&pad, px->raw + 2, 2);
	memcpy(&n, px->raw + 4, 4);
	memcpy(&limit, px->raw + 8, 8);
	px->pad = le16toh(pad);
	px->n = le32toh(n);
	px->limit = le64toh(limit);
	px->bmlen = px->len - PX_HDR;
	return 0;
}

static bool px_bit(const struct px *px, unsigned int i)
{
	if (i / 8 >= px->bmlen)
		return false;
	return px->raw[PX_HDR + i / 8] & (1u << (i % 8));
}

static bool has_x(const char *path, const char *name)
{
	return lgetxattr(path, name, NULL, 0) >= 0;
}

/*
 * The upper file @upath of a partial file with xattr @px against the
 * model @m: below the limit, the granules it holds are @m's and the
 * others holes (zeros); from the limit on it is @m.  0, -errno, or 1 +
 * the first offset that is wrong.
 */
static long long upper_diff(const char *upath, const struct model *m,
			    const struct px *px)
{
	int fd = open(upath, O_RDONLY | O_CLOEXEC);
	unsigned char *buf;
	long long ret = 0;
	size_t off = 0, i;
	ssize_t n;

	if (fd < 0)
		return -errno;
	buf = malloc(CHUNK);
	while (buf) {
		n = pread(fd, buf, CHUNK, off);
		if (n < 0) {
			ret = -errno;
			break;
		}
		for (i = 0; i < (size_t)n; i++) {
			size_t at = off + i;
			bool hold = at >= px->limit ||
				    px_bit(px, at >> GRAN_SHIFT);
			unsigned char want = at >= m->len ? 0xff - buf[i] :
					     hold ? m->b[at] : 0;

			if (buf[i] != want) {
				ret = 1 + at;
				break;
			}
		}
		if (ret || !n)
			break;
		off += n;
	}
	if (!buf)
		ret = -ENOMEM;
	else if (!ret && off != m->len)
		ret = 1 + off;
	free(buf);
	close(fd);
	return ret;
}

/* A partial xattr: the header, then @bmlen bitmap bytes of @fill. */
static size_t mk_px(unsigned char *out, uint8_t version, uint8_t shift,
		    uint32_t n, uint64_t limit, size_t bmlen,
		    unsigned char fill)
{
	uint32_t n_le = htole32(n);
	uint64_t limit_le = htole64(limit);

	memset(out, 0, PX_HDR);
	out[0] = version;
	out[1] = shift;
	memcpy(out + 4, &n_le, 4);
	memcpy(out + 8, &limit_le, 8);
	memset(out + PX_HDR, fill, bmlen);
	return PX_HDR + bmlen;
}

/* ---- the fixture --------------------------------------------------------- */

/*
 * Lower layers: l1 holds lfiles[], l0 (on top) is empty but for what the
 * hostile cases put there.  The partial_ext4 variant has its upper and
 * work directories on ext4 on a loop device (a file in the base dir).
 */
FIXTURE(pt) {
	struct rw_env rw;
	struct model m;		/* scratch model of the file under test */
	struct model m2;
};

FIXTURE_VARIANT(pt) {
	const char *copyup;	/* the value of copyup= */
	bool partial;
	bool ext4;
};

FIXTURE_VARIANT_ADD(pt, partial) {
	.copyup = "partial",
	.partial = true,
};

FIXTURE_VARIANT_ADD(pt, partial_ext4) {
	.copyup = "partial",
	.partial = true,
	.ext4 = true,
};

FIXTURE_VARIANT_ADD(pt, full) {
	.copyup = "full",
};

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)
#define U(rel)	UP(RW, rel)
#define L(rel)	LP(RW, 1, rel)
#define L0(rel) LP(RW, 0, rel)
#define B(rel)	pathf("%s/%s", self->rw.e.base, rel)

/*
 * Upper and work directories on a fresh ext4 on a loop device, with 4 KiB
 * blocks as on a real host (mkfs.ext4 takes 1 KiB for a small one); what
 * the commands said is in base/ext4.log.
 */
static int ext4_upper(struct rw_env *rw)
{
	const char *img = pathf("%s/ext4.img", rw->e.base);
	const char *dir = pathf("%s/ext", rw->e.base);
	int ret = mkdir_p(dir, 0755);

	if (ret)
		return ret;
	if (run(pathf("%s/ext4.log", rw->e.base),
		"modprobe -q loop; truncate -s 384M %s && mkfs.ext4 -q -F -b 4096 -I 256 %s && mount -o loop %s %s",
		img, img, img, dir))
		return -EIO;
	snprintf(rw->upper, sizeof(rw->upper), "%s/u", dir);
	snprintf(rw->work, sizeof(rw->work), "%s/w", dir);
	return mkdir_p(rw->upper, 0755) ?: mkdir_p(rw->work, 0755);
}

FIXTURE_SETUP(pt)
{
	struct rw_env *rw = &self->rw;
	unsigned int i;

	if (getuid() != 0)
		SKIP(return, "must run as root");
	if (!fs_registered("cowfs"))
		SKIP(return, "cowfs is not loaded");
	if (variant->ext4 && !have_cmd("mkfs.ext4"))
		SKIP(return, "no mkfs.ext4");
	memset(&self->m, 0, sizeof(self->m));
	memset(&self->m2, 0, sizeof(self->m2));
	setenv("COWFS_TEST_FSTYPE", "cowfs", 1);
	SETUP_ASSERT0(&rw->e, rw_init(rw, 2, 0, NULL));
	if (variant->ext4 && ext4_upper(rw)) {
		TH_LOG("ext4 upper: %s", slurp(pathf("%s/ext4.log", rw->e.base)));
		rw_cleanup(rw);
		ASSERT_TRUE(false);
	}
	for (i = 0; i < ARRAY_LEN(lfiles); i++)
		SETUP_ASSERT0(&rw->e, make_lower(LP(rw, 1, lfiles[i].name),
						 lfiles[i].name));
}

FIXTURE_TEARDOWN(pt)
{
	model_free(&self->m);
	model_free(&self->m2);
	rw_cleanup(&self->rw);
}

/* The variant's options, then @more (may be NULL). */
static const char *pt_opts(const FIXTURE_VARIANT(pt) *variant,
			   const char *more)
{
	return pathf("copyup=%s%s%s", variant->copyup, more ? "," : "",
		     more ?: "");
}

static int pt_remount(struct rw_env *rw, const char *opts)
{
	int ret = rw_umount(rw);

	if (ret)
		return ret;
	drop_caches();
	return rw_mount(rw, opts);
}

#define MOUNT()		ASSERT_EQ(0, rw_mount(RW, pt_opts(variant, NULL)))
#define REMOUNT()	ASSERT_EQ(0, rw_remount(RW))
#define LOWER(m, name)	ASSERT_EQ(0, model_lower((m), (name)))

/*
 * @rel (from lower file @lower_name, @m its model) is a partial file
 * holding exactly granules @bits[0..@nbits) (any if @nbits < 0).
 */
static void expect_partial(struct __test_metadata *_metadata,
			   struct rw_env *rw, const char *rel,
			   const char *lower_name, const struct model *m,
			   const int *bits, int nbits)
{
	int li = lfile_index(lower_name);
	size_t llen = li < 0 ? 0 : lfiles[li].len;
	const char *up = UP(rw, rel);
	struct px px;
	unsigned char mc[8];
	unsigned int i;
	long long d;
	int j;

	ASSERT_EQ(S_IFREG, ftype(up)) {
		TH_LOG("%s: no upper file", rel);
	}
	ASSERT_EQ(0, get_px(up, &px)) {
		TH_LOG("%s: no valid %s: %s", rel, PARTIAL_XATTR,
		       strerror(errno));
	}
	EXPECT_EQ(0, px.version);
	EXPECT_EQ(GRAN_SHIFT, px.shift);
	EXPECT_EQ(0, px.pad);
	EXPECT_EQ(DIV_UP(llen, GRAN), px.n);
	EXPECT_EQ(llen, px.limit);
	EXPECT_LE(DIV_UP(px.n, 8), px.bmlen) {
		TH_LOG("%s: %u granules, %zu bitmap bytes", rel, px.n,
		       px.bmlen);
	}
	EXPECT_GE(DIV_UP(px.n, 64) * 8, px.bmlen);
	for (i = px.n; i < px.bmlen * 8; i++)
		EXPECT_FALSE(px_bit(&px, i)) {
			TH_LOG("%s: bit %u set past %u granules", rel, i, px.n);
		}
	if (nbits >= 0) {
		for (i = 0; i < px.n; i++) {
			bool want = false;

			for (j = 0; j < nbits; j++)
				want |= bits[j] == (int)i;
			EXPECT_EQ(want, px_bit(&px, i)) {
				TH_LOG("%s: granule %u %s", rel, i,
				       want ? "missing" : "held, not written");
			}
		}
	}
	/* "\0": overlayfs refuses a metacopy xattr of 1 to 3 bytes */
	EXPECT_EQ(1, lgetxattr(up, OVL_METACOPY_XATTR, mc, sizeof(mc)));
	EXPECT_EQ(0, mc[0]);
	EXPECT_LT(0, lgetxattr(up, OVL_ORIGIN_XATTR, NULL, 0));
	d = upper_diff(up, m, &px);
	EXPECT_EQ(0, d) {
		if (d < 0)
			TH_LOG("%s: upper: %s", rel, strerror((int)-d));
		else
			TH_LOG("%s: upper file wrong at byte %lld (granule %lld)",
			       rel, d - 1, (d - 1) >> GRAN_SHIFT);
	}
}

/* @rel's upper file is complete: no partial xattrs, and it is @m. */
static void expect_whole(struct __test_metadata *_metadata,
			 struct rw_env *rw, const char *rel,
			 const struct model *m)
{
	const char *up = UP(rw, rel);
	long long d;

	ASSERT_EQ(S_IFREG, ftype(up)) {
		TH_LOG("%s: no upper file", rel);
	}
	EXPECT_FALSE(has_x(up, PARTIAL_XATTR)) {
		TH_LOG("%s: still has %s", rel, PARTIAL_XATTR);
	}
	EXPECT_FALSE(has_metacopy(up)) {
		TH_LOG("%s: still has %s", rel, OVL_METACOPY_XATTR);
	}
	d = model_diff(up, m);
	EXPECT_EQ(0, d) {
		log_diff(_metadata, up, d, m);
	}
}

/* Partial variants: expect_partial(); full: expect_whole(). */
#define EXPECT_PARTIAL(rel, lname, m, ...) do {				\
	static const int __bits[] = { __VA_ARGS__ };			\
	if (variant->partial)						\
		expect_partial(_metadata, RW, rel, lname, m, __bits,	\
			       (int)ARRAY_LEN(__bits) - 1);		\
	else								\
		expect_whole(_metadata, RW, rel, m);			\
} while (0)
/* The granule list ends with -1 (so that it is never empty) */
#define GR(...)			__VA_ARGS__, -1
#define NOGR			-1

#define EXPECT_WHOLE(rel, m)	expect_whole(_metadata, RW, rel, m)

/* ---- 1. the option ------------------------------------------------------- */

TEST_F(pt, option_shown)
{
	struct mnt_info mi;
	char *v, *po;

	MOUNT();
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	EXPECT_STREQ("cowfs", mi.fstype);
	v = opt_value(mi.super_opts, "copyup");
	if (variant->partial) {
		EXPECT_STREQ("partial", v ?: "(none)") {
			TH_LOG("mountinfo: %s", mi.super_opts);
		}
	} else {
		/* the default need not be shown */
		EXPECT_TRUE(!v || !strcmp(v, "full")) {
			TH_LOG("mountinfo: %s", mi.super_opts);
		}
	}
	free(v);
	mnt_info_free(&mi);
	po = proc_mounts_opts(RW->e.mnt);
	ASSERT_NE(NULL, po);
	EXPECT_EQ(variant->partial, strstr(po, "copyup=partial") != NULL) {
		TH_LOG("/proc/mounts: %s", po);
	}
	free(po);
	ASSERT_EQ(0, rw_umount(RW));

	/* Without the option: full, not shown as partial */
	ASSERT_EQ(0, rw_mount(RW, ""));
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	EXPECT_EQ(NULL, strstr(mi.super_opts, "copyup=partial"));
	mnt_info_free(&mi);
	ASSERT_EQ(0, rw_umount(RW));

	/* index=on is fine */
	ASSERT_EQ(0, rw_mount(RW, pt_opts(variant, "index=on")));
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	EXPECT_EQ(variant->partial,
		  strstr(mi.super_opts, "copyup=partial") != NULL) {
		TH_LOG("mountinfo: %s", mi.super_opts);
	}
	mnt_info_free(&mi);
}

TEST_F(pt, option_conflicts)
{
	static const char *const partial_bad[] = {
		"copyup=partial,metacopy=on",
		"metacopy=on,copyup=partial",
		"copyup=partial,verity=on",
		"copyup=partial,verity=require",
		"verity=on,copyup=partial",
		"copyup=partial,redirect_dir=on,metacopy=on",
	};
	static const char *const bad[] = {
		"copyup=",
		"copyup=bogus",
		"copyup=Partial",
		"copyup",
		"copyup=partial,copyup=bogus",
	};
	struct fsparam p[4];
	char log[1024];
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_LEN(partial_bad) + ARRAY_LEN(bad); i++) {
		const char *o = i < ARRAY_LEN(partial_bad) ? partial_bad[i] :
				bad[i - ARRAY_LEN(partial_bad)];

		ret = rw_mount(RW, o);
		EXPECT_EQ(-EINVAL, ret) {
			TH_LOG("%s: %s", o, ret ? strerror(-ret) : "accepted");
		}
		if (!ret)
			rw_umount(RW);
	}
	/* The last one wins, as for other options */
	ASSERT_EQ(0, rw_mount(RW, "copyup=partial,copyup=full,metacopy=on"));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, rw_mount(RW, "metacopy=off,copyup=partial"));
	ASSERT_EQ(0, rw_umount(RW));
	/* copyup=full goes with metacopy */
	ASSERT_EQ(0, rw_mount(RW, "copyup=full,metacopy=on"));
	ASSERT_EQ(0, rw_umount(RW));

	/* The new mount API: refused at the latest at FSCONFIG_CMD_CREATE */
	p[0] = (struct fsparam){ "lowerdir+", RW->e.layers[0] };
	p[1] = (struct fsparam){ "upperdir", RW->upper };
	p[2] = (struct fsparam){ "workdir", RW->work };
	p[3] = (struct fsparam){ "copyup", "partial" };
	ret = fsapi_mount(RW->e.mnt, p, 4, log, sizeof(log));
	EXPECT_EQ(0, ret);
	if (!ret)
		ASSERT_EQ(0, rw_umount(RW));
	{
		struct fsparam q[5] = { p[0], p[1], p[2], p[3],
					{ "metacopy", "on" } };

		EXPECT_EQ(-EINVAL, fsapi_mount(RW->e.mnt, q, 5, log, sizeof(log)));
		q[4] = (struct fsparam){ "verity", "on" };
		EXPECT_EQ(-EINVAL, fsapi_mount(RW->e.mnt, q, 5, log, sizeof(log)));
	}
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

/* ---- 2. a small write copies the granule it touches ---------------------- */

TEST_F(pt, first_write_copies_touched_granules)
{
	struct model *m = &self->m;
	struct stat before, u, mst;
	char xl[4096];
	ssize_t xn;
	char *p;
	int fd;

	LOWER(m, "big");
	MOUNT();
	before = lst(M("big"));
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* Open for write: a sparse upper file of the lower size, no data */
	u = lst(U("big"));
	ASSERT_EQ(S_IFREG, u.st_mode & S_IFMT);
	EXPECT_EQ(BIG, u.st_size);
	if (variant->partial) {
		EXPECT_GE(8 * KB / 512, u.st_blocks) {
			TH_LOG("%lld blocks before any write",
			       (long long)u.st_blocks);
		}
		expect_partial(_metadata, RW, "big", "big", m, NULL, 0);
	}
	EXPECT_MODEL_FD(fd, m);

	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16));
	u = lst(U("big"));
	if (variant->partial) {
		EXPECT_GE((2 * GRAN + 8 * KB) / 512, u.st_blocks) {
			TH_LOG("upper has %lld blocks", (long long)u.st_blocks);
		}
		/* The union's file does not look sparse: cp would seek */
		EXPECT_LE(lst(L("big")).st_blocks, lst(M("big")).st_blocks);
	} else {
		EXPECT_LE(BIG / 512, u.st_blocks);
	}
	/* st_ino kept, size right, the lower file untouched */
	mst = lst(M("big"));
	EXPECT_EQ(before.st_ino, mst.st_ino);
	EXPECT_EQ(BIG, mst.st_size);
	LOWER(&self->m2, "big");
	EXPECT_MODEL(L("big"), &self->m2);
	EXPECT_FALSE(has_x(L("big"), PARTIAL_XATTR));
	/* The union hides its xattrs */
	xn = llistxattr(M("big"), xl, sizeof(xl));
	ASSERT_LE(0, xn);
	for (p = xl; p < xl + xn; p += strlen(p) + 1)
		EXPECT_NE(0, strncmp(p, "trusted.overlay.", 16)) {
			TH_LOG("the union lists %s", p);
		}
	EXPECT_GT(0, lgetxattr(M("big"), PARTIAL_XATTR, xl, sizeof(xl)));
	EXPECT_GT(0, lgetxattr(M("big"), OVL_METACOPY_XATTR, xl, sizeof(xl)));
	EXPECT_EQ(0, work_leftovers(RW));
}

/* ---- 3. where writes land ------------------------------------------------ */

TEST_F(pt, write_across_granule_boundaries)
{
	struct model *m = &self->m;
	int fd;

	LOWER(m, "big");
	MOUNT();
	fd = open(M("big"), O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, 2 * GRAN - 500, 1000));		/* 1, 2 */
	ASSERT_EQ(0, pw(fd, m, 5 * GRAN + 30000, 150000));	/* 5, 6, 7 */
	ASSERT_EQ(0, pw(fd, m, 10 * GRAN, GRAN));		/* 10 whole */
	ASSERT_EQ(0, pw(fd, m, 12 * GRAN - 1, 2));		/* 11, 12 */
	ASSERT_EQ(0, pw(fd, m, BIG - 1, 1));			/* 63 */
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(1, 2, 5, 6, 7, 10, 11, 12, 63));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

TEST_F(pt, write_last_short_granule)
{
	struct model *m = &self->m;

	/* mb1: 17 granules, the last one holds 1 byte */
	LOWER(m, "mb1");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("mb1"), m, MB, 1));
	EXPECT_MODEL(M("mb1"), m);
	EXPECT_PARTIAL("mb1", "mb1", m, GR(16));
	/* Across the old end of file: extends */
	ASSERT_EQ(0, pw_path(M("mb1"), m, MB - 5, 10));
	EXPECT_MODEL(M("mb1"), m);
	EXPECT_PARTIAL("mb1", "mb1", m, GR(15, 16));
	REMOUNT();
	EXPECT_MODEL(M("mb1"), m);
}

/*
 * A write past EOF into the short last granule, not touching the old
 * bytes of it: what the lower file has of that granule (1 byte) still
 * shows, then zeros, then the write.
 */
TEST_F(pt, write_past_eof_in_short_granule)
{
	struct model *m = &self->m;

	LOWER(m, "mb1");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("mb1"), m, MB + 1000, 10));
	EXPECT_MODEL(M("mb1"), m);
	if (variant->partial) {
		/* granule 16 copied or not: only the data must be right */
		expect_partial(_metadata, RW, "mb1", "mb1", m, NULL, -1);
	}
	REMOUNT();
	EXPECT_MODEL(M("mb1"), m);
	ASSERT_EQ(0, pw_path(M("mb1"), m, 3 * GRAN, 10));
	EXPECT_MODEL(M("mb1"), m);
}

TEST_F(pt, append)
{
	struct model *m = &self->m;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, append(M("big"), m, 5000));
	EXPECT_MODEL(M("big"), m);
	/* Only bytes past the lower file: no granule needed */
	EXPECT_PARTIAL("big", "big", m, NOGR);
	ASSERT_EQ(0, append(M("big"), m, 3 * GRAN));
	EXPECT_MODEL(M("big"), m);
	ASSERT_EQ(0, pw_path(M("big"), m, BIG - 10, 20));	/* 63 */
	ASSERT_EQ(0, append(M("big"), m, 1));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(63));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);

	/* O_APPEND on a short last granule */
	LOWER(&self->m2, "mb1");
	ASSERT_EQ(0, append(M("mb1"), &self->m2, 100));
	EXPECT_MODEL(M("mb1"), &self->m2);
	REMOUNT();
	EXPECT_MODEL(M("mb1"), &self->m2);
}

TEST_F(pt, write_beyond_eof)
{
	struct model *m = &self->m;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, 6 * MB + 7, 100));
	EXPECT_EQ(6 * MB + 107, lst(M("big")).st_size);
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, NOGR);
	ASSERT_EQ(0, pw_path(M("big"), m, 2 * MB, 3));		/* 32 */
	ASSERT_EQ(0, pw_path(M("big"), m, 5 * MB, 3));		/* hole */
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(32));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/* Under 1 MiB: copied whole, as copyup=full; from 1 MiB on: partial. */
TEST_F(pt, size_threshold)
{
	static const char *const names[] = { "small", "under", "mb", "mb1" };
	struct model *m = &self->m;
	unsigned int i;

	MOUNT();
	for (i = 0; i < ARRAY_LEN(names); i++) {
		const char *n = names[i];
		int li = lfile_index(n);

		LOWER(m, n);
		ASSERT_EQ(0, pw_path(M(n), m, 2 * KB, 100));
		EXPECT_MODEL(M(n), m);
		if (variant->partial && lfiles[li].len >= MB) {
			expect_partial(_metadata, RW, n, n, m, (int[]){ 0 }, 1);
		} else {
			EXPECT_WHOLE(n, m);
		}
	}
	/* O_TRUNC copies nothing and leaves a plain file */
	ASSERT_EQ(0, write_str(M("big"), "new\n", O_TRUNC));
	EXPECT_STREQ("new\n", slurp(M("big")));
	EXPECT_FALSE(has_x(U("big"), PARTIAL_XATTR));
	EXPECT_FALSE(has_metacopy(U("big")));
	/* Read-only opens copy up nothing */
	EXPECT_EQ(0, open_err(M("huge")));
	EXPECT_EQ(-ENOENT, lstat_err(U("huge")));
}

/* A write that copies the last missing granule leaves a complete file. */
TEST_F(pt, write_of_last_missing_granule_completes)
{
	struct model *m = &self->m, *m2 = &self->m2;
	int fd, g;

	LOWER(m, "mb");
	LOWER(m2, "mb1");
	MOUNT();
	fd = open(M("mb"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (g = 15; g > 0; g--)
		ASSERT_EQ(0, pw(fd, m, (size_t)g * GRAN + 7, 1));
	EXPECT_PARTIAL("mb", "mb", m, GR(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
					 12, 13, 14, 15));
	ASSERT_EQ(0, pw(fd, m, 5, 1));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_WHOLE("mb", m);
	/* One write over all of the file */
	ASSERT_EQ(0, pw_path(M("mb1"), m2, 0, MB + 1));
	EXPECT_WHOLE("mb1", m2);
	REMOUNT();
	EXPECT_MODEL(M("mb"), m);
	EXPECT_MODEL(M("mb1"), m2);
}

/* The union neither shows nor takes the partial file's xattrs. */
TEST_F(pt, union_protects_partial_xattrs)
{
	struct model *m = &self->m;
	unsigned char x[PX_HDR + 8];
	size_t n;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	n = mk_px(x, 0, GRAN_SHIFT, 64, BIG, 8, 0xff);
	EXPECT_NE(0, set_x(M("big"), PARTIAL_XATTR, x, n));
	EXPECT_NE(0, ERRNO_OF(lremovexattr(M("big"), PARTIAL_XATTR)));
	EXPECT_NE(0, ERRNO_OF(lremovexattr(M("big"), OVL_METACOPY_XATTR)));
	EXPECT_NE(0, set_x(M("big"), OVL_METACOPY_XATTR, "", 0));
	/* Nor may a new file get them */
	ASSERT_EQ(0, mkfile(M("new"), "new\n"));
	EXPECT_NE(0, set_x(M("new"), PARTIAL_XATTR, x, n));
	EXPECT_FALSE(has_x(U("new"), PARTIAL_XATTR));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/*
 * A file of 3 GiB (sparse): its granules may be bigger than 64 KiB, so
 * that the bitmap stays small; the record must say which size, and the
 * data must be right.
 */
#define GIANT		(3ULL << 30)
#define GIANT_EXT	(1ULL << 30)	/* 600 KiB of data around 1 GiB */

/* Compare @len bytes of @fd at @off with @want: 0, -errno or 1 + offset */
static long long range_diff(int fd, const unsigned char *want, size_t off,
			    size_t len)
{
	unsigned char *buf = malloc(len);
	long long ret = 0;
	ssize_t n;
	size_t i;

	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, len, off);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = 1 + off + n;
	else if (memcmp(buf, want, len)) {
		for (i = 0; buf[i] == want[i]; i++)
			;
		ret = 1 + off + i;
	}
	free(buf);
	return ret;
}

TEST_F_TIMEOUT(pt, giant_file, 120)
{
	/* The model of bytes GIANT_EXT - 1 MiB to GIANT_EXT + 1 MiB */
	const size_t base = GIANT_EXT - MB, wlen = 4 * KB;
	const size_t woff = GIANT_EXT + 100;
	struct model *m = &self->m;
	unsigned char *ext, *w;
	unsigned int g, shift;
	struct stat u;
	struct px px;
	long long d;
	int fd;

	ASSERT_EQ(0, model_truncate(m, 2 * MB));
	ext = m->b + (GIANT_EXT - 300 * KB - base);
	fill_pattern(ext, 600 * KB, SEED_OTHER);
	fd = open(L("giant"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, GIANT));
	ASSERT_EQ(600 * KB, pwrite(fd, ext, 600 * KB, GIANT_EXT - 300 * KB));
	ASSERT_EQ(0, close(fd));
	MOUNT();
	fd = open(M("giant"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) {
		TH_LOG("open for write: %s", strerror(errno));
	}
	w = m->b + (woff - base);
	fill_pattern(w, wlen, 0x61a47);
	ASSERT_EQ((ssize_t)wlen, pwrite(fd, w, wlen, woff));
	d = range_diff(fd, m->b, base, 2 * MB);
	EXPECT_EQ(0, d) {
		TH_LOG("giant: wrong at byte %lld", d - 1);
	}
	EXPECT_EQ((off_t)GIANT, lst(M("giant")).st_size);
	ASSERT_EQ(0, close(fd));
	if (variant->partial) {
		ASSERT_EQ(0, get_px(U("giant"), &px));
		shift = px.shift;
		TH_LOG("giant: granule shift %u, %u granules, %zu bitmap bytes",
		       shift, px.n, px.bmlen);
		EXPECT_LE(GRAN_SHIFT, shift);
		EXPECT_EQ(GIANT, px.limit);
		EXPECT_EQ(DIV_UP(GIANT, 1ULL << shift), px.n);
		EXPECT_LE(DIV_UP(px.n, 8), px.bmlen);
		EXPECT_GE(DIV_UP(px.n, 64) * 8, px.bmlen);
		for (g = 0; g < px.n; g++)
			EXPECT_EQ(g == woff >> shift, px_bit(&px, g)) {
				TH_LOG("granule %u", g);
			}
		u = lst(U("giant"));
		EXPECT_GE((long long)((2ULL << shift) + 8 * KB) / 512,
			  (long long)u.st_blocks);
	} else {
		EXPECT_FALSE(has_x(U("giant"), PARTIAL_XATTR));
	}
	REMOUNT();
	fd = open(M("giant"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	d = range_diff(fd, m->b, base, 2 * MB);
	EXPECT_EQ(0, d) {
		TH_LOG("giant after remount: wrong at byte %lld", d - 1);
	}
	ASSERT_EQ(0, close(fd));
}

/*
 * The record of a big file (a bitmap of up to 2 KiB) next to the xattrs
 * copied up with it may not fit the upper filesystem's xattr space (one
 * 4 KiB block on ext4): the open for write must still work, as with
 * copyup=full, and the data be right.
 */
TEST_F_TIMEOUT(pt, record_and_big_xattrs, 60)
{
	const size_t size = 1ULL << 30;
	unsigned char val[2500], got[2600];
	struct model *m = &self->m;
	int fd;

	fill_pattern(val, sizeof(val), SEED_OTHER);
	fd = open(L("xa"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, size));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, set_x(L("xa"), "user.big", val, sizeof(val)));
	MOUNT();
	fd = open(M("xa"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) {
		TH_LOG("open for write: %s", strerror(errno));
	}
	ASSERT_EQ(0, model_truncate(m, 4 * MB));
	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	EXPECT_EQ(0, range_diff(fd, m->b, 0, 4 * MB));
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ((ssize_t)sizeof(val),
		  lgetxattr(M("xa"), "user.big", got, sizeof(got)));
	EXPECT_EQ(0, memcmp(val, got, sizeof(val)));
	EXPECT_EQ((off_t)size, lst(M("xa")).st_size);
}

/*
 * The upper filesystem full: a write fails whole, or its granules are
 * there and it is written; what the union reads is always what the
 * writes that succeeded made of the lower file.
 */
TEST_F_TIMEOUT(pt, upper_full, 120)
{
	struct model *m = &self->m;
	const char *sfs = B("sfs");
	char *opts;
	int fd, g, ok = 0, failed = 0;
	ssize_t n;

	LOWER(m, "big");
	ASSERT_EQ(0, mount_tmpfs(sfs, "mode=0755,size=512k"));
	ASSERT_EQ(0, mkdir_p(B("sfs/u"), 0755));
	ASSERT_EQ(0, mkdir_p(B("sfs/w"), 0755));
	ASSERT_EQ(0, mkdir_p(B("m2"), 0755));
	opts = rw_opts_for(RW, B("sfs/u"), B("sfs/w"),
			   pathf("copyup=%s", variant->copyup));
	ASSERT_NE(NULL, opts);
	ASSERT_EQ(0, mount_data(B("m2"), opts));
	fd = open(B("m2/big"), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/* copyup=full: a copy of 4 MiB does not fit */
		EXPECT_FALSE(variant->partial) {
			TH_LOG("open: %s", strerror(errno));
		}
		EXPECT_EQ(ENOSPC, errno);
	} else {
		for (g = 0; g < BIG / GRAN; g += 3) {
			unsigned char buf[100];
			size_t off = (size_t)g * GRAN + 10;

			fill_pattern(buf, sizeof(buf), wseed(off, 100));
			n = pwrite(fd, buf, sizeof(buf), off);
			if (n > 0) {
				ASSERT_EQ(0, model_write(m, off, buf, n));
				ok++;
			} else {
				EXPECT_EQ(ENOSPC, errno);
				failed++;
			}
		}
		TH_LOG("%d writes done, %d refused", ok, failed);
		EXPECT_LT(0, ok);
		EXPECT_LT(0, failed);
		EXPECT_MODEL_FD(fd, m);
		ASSERT_EQ(0, close(fd));
	}
	EXPECT_MODEL(B("m2/big"), m);
	ASSERT_EQ(0, umount2(B("m2"), 0) ? -errno : 0);
	ASSERT_EQ(0, mount_data(B("m2"), opts));
	EXPECT_MODEL(B("m2/big"), m);
	free(opts);
}

/* ---- 4. remount ---------------------------------------------------------- */

TEST_F(pt, remount_keeps_filling)
{
	struct model *m = &self->m;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16));
	ASSERT_EQ(0, pw_path(M("big"), m, 3 * MB, 4 * KB));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16, 48));

	/* copyup=full reads and fills it as well */
	ASSERT_EQ(0, pt_remount(RW, "copyup=full"));
	EXPECT_MODEL(M("big"), m);
	ASSERT_EQ(0, pw_path(M("big"), m, 2 * MB + 5, 10));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16, 32, 48));
	/* and copies new files whole */
	LOWER(&self->m2, "mb1");
	ASSERT_EQ(0, pw_path(M("mb1"), &self->m2, 0, 1));
	EXPECT_WHOLE("mb1", &self->m2);

	/* Default options: the same */
	ASSERT_EQ(0, pt_remount(RW, ""));
	EXPECT_MODEL(M("big"), m);
	ASSERT_EQ(0, pw_path(M("big"), m, 0, 1));
	EXPECT_MODEL(M("big"), m);

	ASSERT_EQ(0, pt_remount(RW, pt_opts(variant, NULL)));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(0, 16, 32, 48));
	EXPECT_MODEL(M("mb1"), &self->m2);
}

/* ---- 5. mmap ------------------------------------------------------------- */

/* mmap @path read-only (MAP_SHARED or MAP_PRIVATE) and compare with @m. */
static long long mmap_diff(const char *path, int oflags, int mflags,
			   const struct model *m)
{
	int fd = open(path, oflags | O_CLOEXEC);
	unsigned char *p;
	long long ret = 0;
	size_t i;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, m->len, PROT_READ, mflags, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
	} else {
		if (memcmp(p, m->b, m->len)) {
			for (i = 0; p[i] == m->b[i]; i++)
				;
			ret = 1 + i;
		}
		munmap(p, m->len);
	}
	close(fd);
	return ret;
}

TEST_F(pt, mmap_read_completes)
{
	struct model *m = &self->m, *m2 = &self->m2;
	long long d;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, pw_path(M("mb1"), m2, 3 * GRAN, 10));
	EXPECT_PARTIAL("big", "big", m, GR(16));
	/* A read-only descriptor's shared mapping */
	d = mmap_diff(M("big"), O_RDONLY, MAP_SHARED, m);
	EXPECT_EQ(0, d) {
		log_diff(_metadata, "mmap big", d, m);
	}
	EXPECT_WHOLE("big", m);
	/* A private mapping of a read-write descriptor */
	d = mmap_diff(M("mb1"), O_RDWR, MAP_PRIVATE, m2);
	EXPECT_EQ(0, d) {
		log_diff(_metadata, "mmap mb1", d, m2);
	}
	EXPECT_WHOLE("mb1", m2);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("mb1"), m2);
}

TEST_F(pt, mmap_shared_write)
{
	static const size_t at[] = { 0, 17 * GRAN + 3, 40 * GRAN - 2,
				     BIG - 1, 2 * MB + 4095 };
	struct model *m = &self->m, *m2 = &self->m2;
	unsigned char *p;
	unsigned int i;
	int fd;

	LOWER(m, "big");
	LOWER(m2, "mb");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < ARRAY_LEN(at); i++) {
		unsigned char c[2] = { (unsigned char)~m->b[at[i]],
				       (unsigned char)(at[i] & 0xff) };
		size_t n = at[i] + 2 <= BIG ? 2 : 1;

		memcpy(p + at[i], c, n);
		ASSERT_EQ(0, model_write(m, at[i], c, n));
	}
	EXPECT_EQ(0, memcmp(p, m->b, BIG));
	ASSERT_EQ(0, msync(p, BIG, MS_SYNC));
	ASSERT_EQ(0, munmap(p, BIG));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);
	EXPECT_WHOLE("big", m);

	/* Mapped right after the open for write, before any write */
	fd = open(M("mb"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, m2->b, MB));
	p[5 * GRAN + 1] ^= 0xff;
	m2->b[5 * GRAN + 1] ^= 0xff;
	ASSERT_EQ(0, munmap(p, MB));
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("mb"), m2);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("mb"), m2);
	EXPECT_WHOLE("mb", m2);
}

/* Read @len bytes at @addr through /proc/self/mem: 0 or -errno. */
static int peek_mem(const void *addr, void *buf, size_t len)
{
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)(uintptr_t)addr);
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/*
 * A mapping of a partial file fills only the granules whose pages it
 * touches; pages next to them (read ahead into the upper file's page
 * cache as holes) must not show as zeros.
 */
TEST_F(pt, mmap_fault_fills_only_what_it_touches)
{
	struct model *m = &self->m;
	unsigned char *p, buf[300];
	int fd;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	fd = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* The granule written, then its neighbours, one page each */
	EXPECT_EQ(0, memcmp(p + MB, m->b + MB, 4 * KB));
	EXPECT_EQ(0, memcmp(p + MB + GRAN, m->b + MB + GRAN, 4 * KB));
	EXPECT_EQ(0, memcmp(p + MB - 4 * KB, m->b + MB - 4 * KB, 4 * KB));
	EXPECT_EQ(0, memcmp(p + 3 * MB + 5 * KB, m->b + 3 * MB + 5 * KB, 10));
	EXPECT_PARTIAL("big", "big", m, GR(15, 16, 17, 48));
	/*
	 * /proc/self/mem (as ptrace) may not drop the mmap lock to fill a
	 * granule: it reads the lower file's bytes, and fills nothing.
	 */
	ASSERT_EQ(0, peek_mem(p + 2 * MB + 100, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, m->b + 2 * MB + 100, sizeof(buf)));
	EXPECT_PARTIAL("big", "big", m, GR(15, 16, 17, 48));
	/* A write(2) through the union shows in the mapping */
	ASSERT_EQ(0, pw_path(M("big"), m, MB + GRAN + 8, 16));
	EXPECT_EQ(0, memcmp(p + MB + GRAN, m->b + MB + GRAN, 4 * KB));
	ASSERT_EQ(0, munmap(p, BIG));
	ASSERT_EQ(0, close(fd));
	EXPECT_PARTIAL("big", "big", m, GR(15, 16, 17, 48));
	EXPECT_MODEL(M("big"), m);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/*
 * write(2) to a partial file from a buffer mapped from a granule of the
 * same file that it does not hold yet: the fault fills that granule while
 * the write holds locks a fill takes (unless the union faults the buffer
 * in first), and the data must be the lower file's.
 */
TEST_F_TIMEOUT(pt, write_from_own_mapping, 60)
{
	struct model *m = &self->m;
	unsigned char *p;
	int fd;

	LOWER(m, "big");
	MOUNT();
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, 100, 10));
	p = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* 128 KiB from granules 40 and 41 to granules 20 and 21 */
	ASSERT_EQ(2 * GRAN, pwrite(fd, p + 40 * GRAN, 2 * GRAN, 20 * GRAN));
	ASSERT_EQ(0, model_write(m, 20 * GRAN, m->b + 40 * GRAN, 2 * GRAN));
	/* And within one granule */
	ASSERT_EQ(4 * KB, pwrite(fd, p + 50 * GRAN, 4 * KB, 50 * GRAN + 32 * KB));
	ASSERT_EQ(0, model_write(m, 50 * GRAN + 32 * KB, m->b + 50 * GRAN,
				 4 * KB));
	EXPECT_EQ(0, memcmp(p, m->b, BIG));
	ASSERT_EQ(0, munmap(p, BIG));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/*
 * An O_DIRECT read holds the upper file's lock while it pins its buffer;
 * a buffer mapped (shared, writable) from a granule of the same file not
 * copied yet faults then, and its fill takes that lock.
 */
TEST_F_TIMEOUT(pt, direct_read_into_own_mapping, 60)
{
	struct model *m = &self->m;
	unsigned char *p;
	int fd, fdd;

	LOWER(m, "big");
	MOUNT();
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, 16 * GRAN + 5, 10));
	fdd = open(M("big"), O_RDONLY | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fdd);
	p = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Granule 16 (upper) into granule 40, granule 41 (lower) into 50 */
	ASSERT_EQ(GRAN, pread(fdd, p + 40 * GRAN, GRAN, 16 * GRAN));
	ASSERT_EQ(0, model_write(m, 40 * GRAN, m->b + 16 * GRAN, GRAN));
	ASSERT_EQ(GRAN, pread(fdd, p + 50 * GRAN, GRAN, 41 * GRAN));
	ASSERT_EQ(0, model_write(m, 50 * GRAN, m->b + 41 * GRAN, GRAN));
	EXPECT_EQ(0, memcmp(p, m->b, BIG));
	ASSERT_EQ(0, msync(p, BIG, MS_SYNC));
	ASSERT_EQ(0, munmap(p, BIG));
	ASSERT_EQ(0, close(fdd));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/*
 * A read-only union (a read-only bind of it, here) completes nothing on
 * request, but a mapped read still fills the granule it needs: what the
 * union shows does not change.
 */
TEST_F(pt, read_only_union)
{
	struct model *m = &self->m;
	unsigned char *p;
	int fd;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, mount(NULL, RW->e.mnt, NULL,
			   MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	EXPECT_EQ(-1, open(M("big"), O_WRONLY | O_CLOEXEC));
	EXPECT_EQ(EROFS, errno);
	fd = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
	EXPECT_PARTIAL("big", "big", m, GR(16));
	p = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p + 40 * GRAN + 5, m->b + 40 * GRAN + 5, 100));
	ASSERT_EQ(0, munmap(p, BIG));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_PARTIAL("big", "big", m, GR(16, 40));
}

/* ---- 6. truncate, fallocate, lseek, fadvise ------------------------------ */

TEST_F(pt, truncate_shrink_and_extend)
{
	struct model *m = &self->m, *m2 = &self->m2;
	int fd;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	ASSERT_EQ(0, pw(fd, m, 3 * MB, 4 * KB));
	ASSERT_EQ(0, ftruncate(fd, 2 * MB + 3));
	ASSERT_EQ(0, model_truncate(m, 2 * MB + 3));
	EXPECT_MODEL_FD(fd, m);
	EXPECT_WHOLE("big", m);
	ASSERT_EQ(0, ftruncate(fd, 5 * MB));
	ASSERT_EQ(0, model_truncate(m, 5 * MB));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);

	/* truncate(2) by name, shrinking within the short last granule */
	ASSERT_EQ(0, pw_path(M("mb1"), m2, 100, 1));
	ASSERT_EQ(0, truncate(M("mb1"), MB));
	ASSERT_EQ(0, model_truncate(m2, MB));
	EXPECT_MODEL(M("mb1"), m2);
	EXPECT_WHOLE("mb1", m2);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("mb1"), m2);
}

TEST_F(pt, truncate_extend_completes)
{
	struct model *m = &self->m;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, 100, 1));
	ASSERT_EQ(0, truncate(M("big"), 8 * MB + 1));
	ASSERT_EQ(0, model_truncate(m, 8 * MB + 1));
	EXPECT_MODEL(M("big"), m);
	EXPECT_WHOLE("big", m);
}

/*
 * Emptied, then grown again: the lower data must never show through
 * the holes.
 */
TEST_F(pt, truncate_zero_then_extend)
{
	struct model *m = &self->m, *m2 = &self->m2, mt = { 0 };
	int fd;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	ASSERT_EQ(0, ftruncate(fd, 0));
	ASSERT_EQ(0, model_truncate(m, 0));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, ftruncate(fd, BIG));
	ASSERT_EQ(0, model_truncate(m, BIG));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, pw(fd, m, 2 * MB, 10));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);
	EXPECT_FALSE(has_x(U("big"), PARTIAL_XATTR));
	EXPECT_FALSE(has_metacopy(U("big")));

	/* An O_TRUNC open of a partial file */
	ASSERT_EQ(0, model_lower(&mt, "mb"));
	ASSERT_EQ(0, pw_path(M("mb"), &mt, 0, 1));
	ASSERT_EQ(0, write_str(M("mb"), "", O_TRUNC));
	ASSERT_EQ(0, model_truncate(&mt, 0));
	ASSERT_EQ(0, pw_path(M("mb"), &mt, MB - 1, 3));
	EXPECT_MODEL(M("mb"), &mt);
	EXPECT_WHOLE("mb", &mt);

	/* The same by name, then grown by a write past the end */
	ASSERT_EQ(0, pw_path(M("mb1"), m2, 0, 1));
	ASSERT_EQ(0, truncate(M("mb1"), 0));
	ASSERT_EQ(0, model_truncate(m2, 0));
	ASSERT_EQ(0, pw_path(M("mb1"), m2, MB - 3, 10));
	EXPECT_MODEL(M("mb1"), m2);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("mb1"), m2);
	EXPECT_WHOLE("mb1", m2);
	EXPECT_MODEL(M("mb"), &mt);
	model_free(&mt);
}

TEST_F(pt, fallocate_punch_hole)
{
	struct model *m = &self->m;
	int fd;

	LOWER(m, "big");
	MOUNT();
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       MB + 4 * KB, GRAN));
	model_zero(m, MB + 4 * KB, GRAN);
	EXPECT_MODEL_FD(fd, m);
	EXPECT_WHOLE("big", m);
	/* Not aligned, and past EOF */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       3 * MB + 5, 100));
	model_zero(m, 3 * MB + 5, 100);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       BIG - 7, MB));
	model_zero(m, BIG - 7, MB);
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

TEST_F(pt, fallocate_zero_range_and_allocate)
{
	struct model *m = &self->m, *m2 = &self->m2;
	int fd, ret;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	ret = fallocate(fd, FALLOC_FL_ZERO_RANGE, MB, 3 * GRAN + 17) ? -errno : 0;
	/* tmpfs has no ZERO_RANGE; ext4 has */
	EXPECT_EQ(variant->ext4 ? 0 : -EOPNOTSUPP, ret);
	if (!ret)
		model_zero(m, MB, 3 * GRAN + 17);
	EXPECT_MODEL_FD(fd, m);
	if (!ret)
		EXPECT_WHOLE("big", m);
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);

	/* Plain allocation past EOF */
	fd = open(M("mb1"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m2, 200, 1));
	ASSERT_EQ(0, fallocate(fd, 0, MB - 10, MB));
	ASSERT_EQ(0, model_truncate(m2, 2 * MB - 10));
	EXPECT_MODEL_FD(fd, m2);
	EXPECT_WHOLE("mb1", m2);
	ASSERT_EQ(0, close(fd));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("mb1"), m2);
}

static bool model_zeros(const struct model *m, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to && i < m->len; i++)
		if (m->b[i])
			return false;
	return true;
}

/*
 * SEEK_DATA and SEEK_HOLE over all of @fd agree with @m: what they call
 * holes reads as zeros, and the last hole is at EOF.
 */
static void expect_seek_consistent(struct __test_metadata *_metadata, int fd,
				   const struct model *m)
{
	off_t off = 0, data, hole;
	int rounds = 0;

	while ((size_t)off < m->len && rounds++ < 100000) {
		data = lseek(fd, off, SEEK_DATA);
		if (data < 0) {
			EXPECT_EQ(ENXIO, errno);
			EXPECT_TRUE(model_zeros(m, off, m->len)) {
				TH_LOG("no data after %lld, yet data there",
				       (long long)off);
			}
			return;
		}
		EXPECT_LE(off, data);
		EXPECT_TRUE(model_zeros(m, off, data)) {
			TH_LOG("hole %lld..%lld holds data", (long long)off,
			       (long long)data);
		}
		hole = lseek(fd, data, SEEK_HOLE);
		ASSERT_LT(data, hole) {
			TH_LOG("SEEK_HOLE from %lld: %lld (%s)",
			       (long long)data, (long long)hole,
			       strerror(errno));
		}
		EXPECT_GE((off_t)m->len, hole);
		off = hole;
	}
	EXPECT_EQ((off_t)m->len, off);
	EXPECT_EQ(-ENXIO, ERRNO_OF(lseek(fd, m->len, SEEK_DATA)));
	EXPECT_EQ((off_t)m->len, lseek(fd, m->len - 1, SEEK_HOLE));
}

TEST_F_TIMEOUT(pt, seek_data_hole, 120)
{
	struct model *m = &self->m, *m2 = &self->m2;
	int fd;

	LOWER(m, "big");
	LOWER(m2, "huge");
	MOUNT();
	/* big has no hole: a partial file must not show its upper's */
	fd = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m, MB + 100, 4 * KB));
	EXPECT_EQ(BIG, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(0, lseek(fd, 0, SEEK_DATA));
	EXPECT_EQ(2 * MB, lseek(fd, 2 * MB, SEEK_DATA));
	EXPECT_EQ(MB + 100, lseek(fd, MB + 100, SEEK_DATA));
	EXPECT_EQ(BIG, lseek(fd, MB + 100, SEEK_HOLE));
	EXPECT_EQ(-1, lseek(fd, BIG, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	/* Seeking reads: the file stays partial */
	EXPECT_PARTIAL("big", "big", m, GR(16));
	expect_seek_consistent(_metadata, fd, m);
	ASSERT_EQ(0, close(fd));

	/* huge: holes between patterned extents */
	fd = open(M("huge"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pw(fd, m2, 20 * MB, 4 * KB));
	ASSERT_EQ(0, pw(fd, m2, 40 * MB - 100, 200));
	ASSERT_LE(0, lseek(fd, GRAN, SEEK_DATA));
	EXPECT_PARTIAL("huge", "huge", m2, GR(320, 639, 640));
	expect_seek_consistent(_metadata, fd, m2);
	/* The first data is no later than the first non-zero byte */
	EXPECT_EQ(0, lseek(fd, 0, SEEK_DATA));
	EXPECT_LE(256 * KB, lseek(fd, 0, SEEK_HOLE));
	/* The lower file's hole, then the data written in granule 320 */
	EXPECT_EQ(256 * KB, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(20 * MB, lseek(fd, 11 * MB, SEEK_DATA));
	EXPECT_GE(10 * MB + 12345, lseek(fd, 256 * KB, SEEK_DATA));
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("huge"), m2);
	REMOUNT();
	EXPECT_MODEL(M("huge"), m2);
	fd = open(M("huge"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	expect_seek_consistent(_metadata, fd, m2);
	ASSERT_EQ(0, close(fd));
}

TEST_F(pt, fadvise_willneed_completes)
{
	struct model *m = &self->m;
	int fd;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, pw_path(M("big"), m, 3 * MB, 1));
	EXPECT_PARTIAL("big", "big", m, GR(16, 48));
	/* Through a read-only descriptor */
	fd = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
	EXPECT_MODEL_FD(fd, m);
	ASSERT_EQ(0, close(fd));
	EXPECT_WHOLE("big", m);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	ASSERT_EQ(0, pw_path(M("big"), m, 2 * MB, 1));
	EXPECT_MODEL(M("big"), m);
	EXPECT_WHOLE("big", m);
}

/*
 * Completing a file copies data into it, but it is no write of the
 * user's: mtime, the setuid bit and file capabilities stay as they are,
 * as after a full copy-up.
 */
static const unsigned char cap_net_raw[] = {	/* vfs_cap_data, v2 */
	0x01, 0x00, 0x00, 0x02,			/* revision 2, effective */
	0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0,	/* permitted: CAP_NET_RAW */
	0, 0, 0, 0, 0, 0, 0, 0,
};

TEST_F(pt, completion_keeps_metadata)
{
	static const char *const how[] = { "fadvise", "mmap" };
	struct {
		struct fiemap fm;
		struct fiemap_extent fe[8];
	} fm;
	struct model *m = &self->m;
	unsigned char cap[64];
	unsigned int i;
	struct stat st;
	void *p;
	int fd;

	for (i = 0; i < ARRAY_LEN(how); i++) {
		const char *l = L(pathf("x%u", i));

		ASSERT_EQ(0, mkpat(l, SEED_OTHER + i, 2 * MB));
		ASSERT_EQ(0, chmod(l, 04755));
		ASSERT_EQ(0, set_x(l, "security.capability", cap_net_raw,
				   sizeof(cap_net_raw)));
	}
	MOUNT();
	for (i = 0; i < ARRAY_LEN(how); i++) {
		const char *name = M(pathf("x%u", i));

		/* Opened for write, not written: no data copied yet */
		fd = open(name, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, set_mtime(name, 1000 + i));
		if (variant->partial)
			EXPECT_TRUE(has_x(U(pathf("x%u", i)), PARTIAL_XATTR));
		EXPECT_EQ((ssize_t)sizeof(cap_net_raw),
			  lgetxattr(name, "security.capability", cap,
				    sizeof(cap))) {
			TH_LOG("copied up: security.capability: %s",
			       strerror(errno));
		}
		ASSERT_EQ(0, model_truncate(m, 0));
		ASSERT_EQ(0, model_truncate(m, 2 * MB));
		fill_pattern(m->b, 2 * MB, SEED_OTHER + i);
		fd = open(name, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		switch (i) {
		case 0:
			ASSERT_EQ(0, posix_fadvise(fd, 0, 0,
						   POSIX_FADV_WILLNEED));
			break;
		default:
			/* No extent map for two files: it stays partial */
			memset(&fm, 0, sizeof(fm));
			fm.fm.fm_length = ~0ULL;
			fm.fm.fm_extent_count = 8;
			if (variant->partial) {
				EXPECT_EQ(-1, ioctl(fd, FS_IOC_FIEMAP, &fm));
				EXPECT_EQ(EOPNOTSUPP, errno);
				EXPECT_TRUE(has_x(U(pathf("x%u", i)),
						  PARTIAL_XATTR));
			}
			p = mmap(NULL, 2 * MB, PROT_READ | PROT_EXEC,
				 MAP_PRIVATE, fd, 0);
			ASSERT_NE(MAP_FAILED, p);
			/* Every page read: every granule filled */
			EXPECT_EQ(0, memcmp(p, m->b, 2 * MB));
			munmap(p, 2 * MB);
			break;
		}
		ASSERT_EQ(0, close(fd));
		EXPECT_WHOLE(pathf("x%u", i), m);
		st = lst(name);
		EXPECT_EQ(0104755, st.st_mode) {
			TH_LOG("%s: mode %o after completion", how[i],
			       st.st_mode);
		}
		EXPECT_EQ(0104755, lst(U(pathf("x%u", i))).st_mode) {
			TH_LOG("%s: upper mode %o after completion", how[i],
			       lst(U(pathf("x%u", i))).st_mode);
		}
		EXPECT_EQ(1000 + i, st.st_mtime) {
			TH_LOG("%s: mtime %lld after completion", how[i],
			       (long long)st.st_mtime);
		}
		EXPECT_EQ((ssize_t)sizeof(cap_net_raw),
			  lgetxattr(name, "security.capability", cap,
				    sizeof(cap))) {
			TH_LOG("%s: security.capability: %s", how[i],
			       strerror(errno));
		}
		EXPECT_MODEL(name, m);
	}
	REMOUNT();
	for (i = 0; i < ARRAY_LEN(how); i++) {
		EXPECT_EQ(0104755, lst(M(pathf("x%u", i))).st_mode);
		EXPECT_EQ(1000 + i, lst(M(pathf("x%u", i))).st_mtime);
	}
}

/* ---- 7. O_DIRECT --------------------------------------------------------- */

/* O_DIRECT pread of @len at @off (aligned) compared with @m. */
static long long direct_diff(int fd, const struct model *m, size_t off,
			     size_t len)
{
	unsigned char *buf;
	size_t want = off >= m->len ? 0 :
		      off + len > m->len ? m->len - off : len, i;
	long long ret = 0;
	ssize_t n;

	if (posix_memalign((void **)&buf, 4096, len))
		return -ENOMEM;
	n = pread(fd, buf, len, off);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != want)
		ret = 1 + off + (n < (ssize_t)want ? (size_t)n : want);
	else if (memcmp(buf, m->b + off, want)) {
		for (i = 0; buf[i] == m->b[off + i]; i++)
			;
		ret = 1 + off + i;
	}
	free(buf);
	return ret;
}

#define EXPECT_DIRECT(fd, m, off, len) do {				\
	long long __d = direct_diff((fd), (m), (off), (len));		\
	EXPECT_EQ(0, __d) {						\
		log_diff(_metadata, "O_DIRECT read", __d, (m));		\
	}								\
} while (0)

TEST_F(pt, o_direct)
{
	struct model *m = &self->m, *m2 = &self->m2;
	unsigned char *buf;
	size_t off;
	int fd;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 2 * GRAN + 3, 1));
	fd = open(M("big"), O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fd) {
		TH_LOG("O_DIRECT open: %s", strerror(errno));
	}
	/* Granules 15 (missing), 16 (held), 17 (missing), 18 (held) */
	EXPECT_DIRECT(fd, m, MB - GRAN, 4 * GRAN);
	EXPECT_DIRECT(fd, m, MB - 4 * KB, 8 * KB);
	EXPECT_DIRECT(fd, m, MB + GRAN - 4 * KB, 8 * KB);
	/* An aligned write into a missing granule */
	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, 8 * KB));
	fill_pattern(buf, 8 * KB, 0xd1ec7);
	ASSERT_EQ(8 * KB, pwrite(fd, buf, 8 * KB, 2 * MB + 4 * KB));
	ASSERT_EQ(0, model_write(m, 2 * MB + 4 * KB, buf, 8 * KB));
	/* and one of a whole granule */
	free(buf);
	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, GRAN));
	fill_pattern(buf, GRAN, 0xd1ec8);
	ASSERT_EQ(GRAN, pwrite(fd, buf, GRAN, 3 * MB));
	ASSERT_EQ(0, model_write(m, 3 * MB, buf, GRAN));
	free(buf);
	EXPECT_DIRECT(fd, m, 2 * MB, 2 * GRAN);
	for (off = 0; off < BIG; off += MB)
		EXPECT_DIRECT(fd, m, off, MB);
	ASSERT_EQ(0, close(fd));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16, 18, 32, 48));

	/* Opened for write with O_DIRECT: the first open copies up */
	fd = open(M("mb1"), O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, 4 * KB));
	fill_pattern(buf, 4 * KB, 0xd1ec9);
	ASSERT_EQ(4 * KB, pwrite(fd, buf, 4 * KB, 3 * GRAN));
	ASSERT_EQ(0, model_write(m2, 3 * GRAN, buf, 4 * KB));
	free(buf);
	/* The short last granule, read past EOF */
	EXPECT_DIRECT(fd, m2, MB - GRAN, 2 * GRAN);
	EXPECT_DIRECT(fd, m2, 0, 2 * MB);
	ASSERT_EQ(0, close(fd));
	EXPECT_PARTIAL("mb1", "mb1", m2, GR(3));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("mb1"), m2);
}

/* ---- 8. names ------------------------------------------------------------ */

TEST_F(pt, rename_then_remount)
{
	struct model *m = &self->m, *m2 = &self->m2;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, mkdir(M("d"), 0755));
	ASSERT_EQ(0, rename(M("big"), M("d/big2")));
	EXPECT_EQ(-ENOENT, stat_err(M("big")));
	EXPECT_MODEL(M("d/big2"), m);
	REMOUNT();
	EXPECT_EQ(-ENOENT, stat_err(M("big")));
	EXPECT_MODEL(M("d/big2"), m);
	ASSERT_EQ(0, pw_path(M("d/big2"), m, 3 * MB, 4 * KB));
	EXPECT_MODEL(M("d/big2"), m);
	EXPECT_PARTIAL("d/big2", "big", m, GR(16, 48));
	/* Renamed again, within its directory */
	ASSERT_EQ(0, rename(M("d/big2"), M("d/big3")));
	REMOUNT();
	EXPECT_MODEL(M("d/big3"), m);
	ASSERT_EQ(0, pw_path(M("d/big3"), m, 0, 1));
	EXPECT_MODEL(M("d/big3"), m);
	EXPECT_PARTIAL("d/big3", "big", m, GR(0, 16, 48));

	/* A rename before any write copies up whole, no partial file */
	ASSERT_EQ(0, rename(M("mb1"), M("d/mb1")));
	ASSERT_EQ(0, pw_path(M("d/mb1"), m2, 5 * GRAN, 1));
	EXPECT_MODEL(M("d/mb1"), m2);
	EXPECT_WHOLE("d/mb1", m2);
	REMOUNT();
	EXPECT_MODEL(M("d/mb1"), m2);
}

TEST_F(pt, link_write_unlink)
{
	struct model *m = &self->m;
	int fa;

	LOWER(m, "big");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	/* A partial file's record is one inode's: a link completes it */
	ASSERT_EQ(0, link(M("big"), M("big_l")));
	EXPECT_WHOLE("big", m);
	ASSERT_EQ(0, pw_path(M("big_l"), m, 2 * MB, 4 * KB));
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("big_l"), m);
	EXPECT_EQ(lst(M("big")).st_ino, lst(M("big_l")).st_ino);
	EXPECT_EQ(2, lst(M("big")).st_nlink);
	EXPECT_WHOLE("big_l", m);
	REMOUNT();
	EXPECT_MODEL(M("big_l"), m);
	/*
	 * One name open (and read) while the other writes a new granule:
	 * the first must not keep what it knew of the granules.
	 */
	fa = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fa);
	EXPECT_MODEL_FD(fa, m);
	ASSERT_EQ(0, pw_path(M("big_l"), m, 3 * MB, 4 * KB));
	EXPECT_MODEL_FD(fa, m);
	ASSERT_EQ(0, close(fa));
	EXPECT_MODEL(M("big"), m);
	ASSERT_EQ(0, pw_path(M("big"), m, 5 * GRAN, 1));
	EXPECT_MODEL(M("big_l"), m);
	EXPECT_WHOLE("big", m);
	EXPECT_WHOLE("big_l", m);

	ASSERT_EQ(0, unlink(M("big")));
	EXPECT_EQ(-ENOENT, stat_err(M("big")));
	EXPECT_MODEL(M("big_l"), m);
	REMOUNT();
	EXPECT_EQ(-ENOENT, stat_err(M("big")));
	EXPECT_MODEL(M("big_l"), m);
	ASSERT_EQ(0, pw_path(M("big_l"), m, 60 * GRAN, 1));
	EXPECT_MODEL(M("big_l"), m);
	ASSERT_EQ(0, unlink(M("big_l")));
	EXPECT_EQ(-ENOENT, stat_err(M("big_l")));
	REMOUNT();
	EXPECT_EQ(-ENOENT, stat_err(M("big")));
	EXPECT_EQ(-ENOENT, stat_err(M("big_l")));
	EXPECT_EQ(0, work_leftovers(RW));
}

/*
 * A change of metadata of a lower file copies it up whole (no
 * metacopy); of a partial file, it keeps the file partial.
 */
TEST_F(pt, metadata_changes)
{
	struct model *m = &self->m, *m2 = &self->m2;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	ASSERT_EQ(0, chmod(M("mb1"), 0600));
	EXPECT_WHOLE("mb1", m2);
	EXPECT_EQ(0100600, lst(M("mb1")).st_mode);

	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, chmod(M("big"), 0640));
	ASSERT_EQ(0, chown(M("big"), 1234, 5678));
	ASSERT_EQ(0, setxattr(M("big"), "user.k", "v1", 2, 0));
	ASSERT_EQ(0, set_mtime(M("big"), 1000));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16));
	REMOUNT();
	EXPECT_EQ(0100640, lst(M("big")).st_mode);
	EXPECT_EQ(1234, lst(M("big")).st_uid);
	EXPECT_EQ(1000, lst(M("big")).st_mtime);
	EXPECT_STREQ("v1", xattr_str(M("big"), "user.k"));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16));
	/* A write keeps the owner (no privilege dropped by the copy) */
	ASSERT_EQ(0, pw_path(M("big"), m, 0, 1));
	EXPECT_EQ(1234, lst(M("big")).st_uid);
	EXPECT_EQ(0100640, lst(M("big")).st_mode);
}

/*
 * A lower file with two names (index=off) is copied up per name.  A name
 * linked in the union then shares the first name's upper file, yet after
 * a remount each name is a cowfs inode of its own (the lower file has two
 * links: not hashed by it): both must see the granules the other writes.
 */
TEST_F(pt, lower_hard_links)
{
	struct model *m = &self->m, *m2 = &self->m2;
	int fa, fx;

	ASSERT_EQ(0, mkpat(L("hl"), SEED_OTHER, BIG));
	ASSERT_EQ(0, link(L("hl"), L("hl2")) ? -errno : 0);
	ASSERT_EQ(0, model_truncate(m, BIG));
	fill_pattern(m->b, BIG, SEED_OTHER);
	ASSERT_EQ(0, model_truncate(m2, BIG));
	fill_pattern(m2->b, BIG, SEED_OTHER);
	MOUNT();
	ASSERT_EQ(0, pw_path(M("hl"), m, MB + 100, 4 * KB));
	/* Two links below: a record would be one name's, so all of it */
	EXPECT_WHOLE("hl", m);
	ASSERT_EQ(0, link(M("hl"), M("hlx")));
	EXPECT_MODEL(M("hlx"), m);
	/* The other lower name is a file of its own now */
	EXPECT_MODEL(M("hl2"), m2);
	ASSERT_EQ(0, pw_path(M("hl2"), m2, 2 * MB, 10));
	EXPECT_MODEL(M("hl2"), m2);
	EXPECT_MODEL(M("hl"), m);
	REMOUNT();
	fa = open(M("hl"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fa);
	fx = open(M("hlx"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fx);
	EXPECT_MODEL_FD(fa, m);
	EXPECT_MODEL_FD(fx, m);
	/* Through one name, a granule neither has */
	ASSERT_EQ(0, pw_path(M("hlx"), m, 2 * MB, 4 * KB));
	EXPECT_MODEL_FD(fa, m);
	EXPECT_MODEL_FD(fx, m);
	/* Through the other, the same granule, other bytes */
	ASSERT_EQ(0, pw_path(M("hl"), m, 2 * MB + 8 * KB, 4 * KB));
	EXPECT_MODEL_FD(fa, m);
	EXPECT_MODEL_FD(fx, m);
	ASSERT_EQ(0, close(fa));
	ASSERT_EQ(0, close(fx));
	EXPECT_MODEL(M("hl"), m);
	EXPECT_MODEL(M("hlx"), m);
	EXPECT_MODEL(M("hl2"), m2);
	/* Completed through one name: the other reads it all */
	fa = open(M("hl"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fa);
	fx = open(M("hlx"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fx);
	EXPECT_MODEL_FD(fx, m);
	ASSERT_EQ(0, posix_fadvise(fa, 0, 0, POSIX_FADV_WILLNEED));
	ASSERT_EQ(0, pw_path(M("hl"), m, 3 * MB, 4 * KB));
	EXPECT_MODEL_FD(fx, m);
	ASSERT_EQ(0, close(fa));
	ASSERT_EQ(0, close(fx));
	EXPECT_WHOLE("hlx", m);
	REMOUNT();
	EXPECT_MODEL(M("hl"), m);
	EXPECT_MODEL(M("hlx"), m);
	EXPECT_MODEL(M("hl2"), m2);
}

/*
 * index=on: a lower file with two names is copied up whole (its names
 * share the index entry); one with one name is still partial.
 */
TEST_F(pt, index_on)
{
	struct model *m = &self->m, *m2 = &self->m2;

	ASSERT_EQ(0, mkpat(L("hl"), SEED_OTHER, BIG));
	ASSERT_EQ(0, link(L("hl"), L("hl2")) ? -errno : 0);
	ASSERT_EQ(0, model_truncate(m2, BIG));
	fill_pattern(m2->b, BIG, SEED_OTHER);
	LOWER(m, "big");
	ASSERT_EQ(0, rw_mount(RW, pt_opts(variant, "index=on")));
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, pw_path(M("hl"), m2, MB + 100, 4 * KB));
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("hl"), m2);
	EXPECT_MODEL(M("hl2"), m2);
	EXPECT_PARTIAL("big", "big", m, GR(16));
	EXPECT_WHOLE("hl", m2);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("hl2"), m2);
	ASSERT_EQ(0, pw_path(M("big"), m, 3 * MB, 1));
	EXPECT_MODEL(M("big"), m);
	EXPECT_PARTIAL("big", "big", m, GR(16, 48));
}

/* copy_file_range(2) and sendfile(2) into and out of a partial file */
TEST_F(pt, copy_file_range_and_sendfile)
{
	struct model *m = &self->m, *m2 = &self->m2;
	struct model small = { 0 };
	loff_t in, out;
	int fs, fb, fn;

	LOWER(m, "big");
	ASSERT_EQ(0, model_lower(&small, "small"));
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	fs = open(M("small"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fs);
	fb = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fb);
	/* In: into a missing granule, across into the next */
	in = 1000;
	out = 2 * MB + GRAN - 5000;
	ASSERT_EQ(20000, copy_file_range(fs, &in, fb, &out, 20000, 0));
	ASSERT_EQ(0, model_write(m, 2 * MB + GRAN - 5000, small.b + 1000,
				 20000));
	EXPECT_MODEL_FD(fb, m);
	/* Out: a range of held and missing granules into a new file */
	fn = open(M("new"), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ASSERT_LE(0, fn);
	in = MB - 3 * GRAN + 11;
	out = 0;
	ASSERT_EQ(6 * GRAN, copy_file_range(fb, &in, fn, &out, 6 * GRAN, 0));
	ASSERT_EQ(0, model_write(m2, 0, m->b + MB - 3 * GRAN + 11, 6 * GRAN));
	in = 2 * MB;
	ASSERT_EQ(6 * GRAN, lseek(fn, 6 * GRAN, SEEK_SET));
	ASSERT_EQ(4 * GRAN, sendfile(fn, fb, &in, 4 * GRAN));
	ASSERT_EQ(0, model_write(m2, 6 * GRAN, m->b + 2 * MB, 4 * GRAN));
	EXPECT_MODEL_FD(fn, m2);
	close(fn);
	close(fb);
	close(fs);
	EXPECT_PARTIAL("big", "big", m, GR(16, 32, 33));
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
	EXPECT_MODEL(M("new"), m2);
	model_free(&small);
}

/* ---- 9. concurrency ------------------------------------------------------ */

#define NWRITERS	8
#define NREADERS	2
#define NWRITES		24

/*
 * Writer @w's @k-th write into "big": own granules 8w .. 8w+5 (spanning
 * a boundary now and then); 8w+6 and 8w+7 are never written.
 */
static void own_write(int w, int k, size_t *off, size_t *len)
{
	unsigned int g = 8 * w + k % 6;

	*off = (size_t)g * GRAN + (k * 7919u) % GRAN;
	*len = 1 + (k * 104729u) % 20000;
	if (*off + *len > (size_t)(8 * w + 6) * GRAN)
		*len = (size_t)(8 * w + 6) * GRAN - *off;
}

/* Writer @w's @k-th write sharing granules 0..15 with the others */
static void shared_write(int w, int k, size_t *off, size_t *len)
{
	*off = (size_t)(k % 16) * GRAN + w * 8 * KB + 100 + k;
	*len = 4000;
}

typedef void (*write_fn)(int w, int k, size_t *off, size_t *len);

static int writer(const char *path, int w, write_fn fn, int go)
{
	unsigned char buf[20000];
	size_t off, len;
	char c;
	int fd, k;

	if (read(go, &c, 1) != 0)
		return 2;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 3;
	for (k = 0; k < NWRITES; k++) {
		fn(w, k, &off, &len);
		if (!len)
			continue;
		fill_pattern(buf, len, wseed(off, len));
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			return 4;
	}
	return close(fd) ? 5 : 0;
}

/* Read @path until @stop says so; granules @untouched(g) must be @lower's. */
static int reader(const char *path, const struct model *lower,
		  bool (*untouched)(unsigned int g), int go, int stop)
{
	unsigned char *buf = malloc(GRAN);
	unsigned int g, rounds = 0;
	char c;
	int fd;

	if (!buf || read(go, &c, 1) != 0)
		return 2;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 3;
	if (fcntl(stop, F_SETFL, O_NONBLOCK))
		return 7;
	for (;;) {
		for (g = 0; g < BIG / GRAN; g++) {
			ssize_t n = pread(fd, buf, GRAN, (off_t)g * GRAN);

			if (n != GRAN)
				return 4;
			if (untouched(g) &&
			    memcmp(buf, lower->b + (size_t)g * GRAN, GRAN))
				return 5;
		}
		rounds++;
		/* stop once the writers are done (the pipe closed) */
		if (read(stop, &c, 1) == 0)
			break;
	}
	close(fd);
	free(buf);
	return rounds ? 0 : 6;
}

static bool own_untouched(unsigned int g)
{
	return g % 8 >= 6;
}

static bool shared_untouched(unsigned int g)
{
	return g >= 16;
}

/*
 * NWRITERS writers of @fn's writes into "big" and NREADERS readers, all
 * at once; then @m gets the writes and @bits the granules they touched
 * (@nbits of them).
 */
static void run_concurrent(struct __test_metadata *_metadata,
			   struct rw_env *rw, write_fn fn,
			   bool (*untouched)(unsigned int g), struct model *m,
			   int *bits, int *nbits)
{
	bool touched[BIG / GRAN] = { false };
	unsigned int g;
	int go[2], stop[2], status, w, k, i, failed = 0;
	pid_t pids[NWRITERS + NREADERS];
	struct model lower = { 0 };
	unsigned char buf[20000];
	size_t off, len;

	ASSERT_EQ(0, model_lower(&lower, "big"));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(stop));
	for (i = 0; i < NWRITERS + NREADERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i])
			continue;
		close(go[1]);
		close(stop[1]);
		if (i < NWRITERS)
			_exit(writer(MP(rw, "big"), i, fn, go[0]));
		_exit(reader(MP(rw, "big"), &lower, untouched, go[0],
			     stop[0]));
	}
	close(go[0]);
	close(stop[0]);
	close(go[1]);		/* go */
	for (i = 0; i < NWRITERS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("writer %d: status %#x", i, status);
			failed++;
		}
	}
	close(stop[1]);		/* the readers stop */
	for (; i < NWRITERS + NREADERS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("reader %d: status %#x", i - NWRITERS, status);
		}
	}
	model_free(&lower);
	ASSERT_EQ(0, failed);
	/* Writers write disjoint bytes: the order between them is moot */
	for (w = 0; w < NWRITERS; w++) {
		for (k = 0; k < NWRITES; k++) {
			fn(w, k, &off, &len);
			fill_pattern(buf, len, wseed(off, len));
			ASSERT_EQ(0, model_write(m, off, buf, len));
			for (g = off / GRAN; g <= (off + len - 1) / GRAN; g++)
				touched[g] = true;
		}
	}
	*nbits = 0;
	for (g = 0; g < BIG / GRAN; g++) {
		if (touched[g])
			bits[(*nbits)++] = g;
		EXPECT_FALSE(touched[g] && untouched(g));
	}
}

TEST_F_TIMEOUT(pt, concurrent_writers_own_granules, 180)
{
	struct model *m = &self->m;
	int bits[BIG / GRAN], n;

	LOWER(m, "big");
	MOUNT();
	run_concurrent(_metadata, RW, own_write, own_untouched, m, bits, &n);
	EXPECT_MODEL(M("big"), m);
	if (variant->partial)
		expect_partial(_metadata, RW, "big", "big", m, bits, n);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/* Writers of different bytes of the same granules, all at once */
TEST_F_TIMEOUT(pt, concurrent_writers_shared_granules, 180)
{
	struct model *m = &self->m;
	int bits[BIG / GRAN], n;

	LOWER(m, "big");
	MOUNT();
	run_concurrent(_metadata, RW, shared_write, shared_untouched, m, bits,
		       &n);
	EXPECT_MODEL(M("big"), m);
	if (variant->partial)
		expect_partial(_metadata, RW, "big", "big", m, bits, n);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/*
 * Writers of their own granules while other processes complete the file
 * (POSIX_FADV_WILLNEED, SEEK_DATA) and read it.
 */
static void own_write_few(int w, int k, size_t *off, size_t *len)
{
	own_write(w % 4, k, off, len);
	if (w >= 4)	/* the completers and the seeker write nothing */
		*len = 0;
}

static int completer(const char *path, int how, int go)
{
	char c;
	int fd, i;

	if (read(go, &c, 1) != 0)
		return 2;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 3;
	for (i = 0; i < 20; i++) {
		if (how ? lseek(fd, i * GRAN, SEEK_DATA) < 0 :
			  posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED) != 0)
			return 4;
		usleep(1000);
	}
	return close(fd) ? 5 : 0;
}

TEST_F_TIMEOUT(pt, concurrent_completion, 180)
{
	struct model *m = &self->m, lower = { 0 };
	int go[2], stop[2], status, i, k;
	pid_t pids[8];
	unsigned char buf[20000];
	size_t off, len;

	LOWER(m, "big");
	ASSERT_EQ(0, model_lower(&lower, "big"));
	MOUNT();
	/* Partial already: a granule no one else writes or checks */
	ASSERT_EQ(0, pw_path(M("big"), m, 34 * GRAN + 5, 1));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(stop));
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i])
			continue;
		close(go[1]);
		close(stop[1]);
		if (i < 4)
			_exit(writer(M("big"), i, own_write_few, go[0]));
		if (i < 6)
			_exit(completer(M("big"), i - 4, go[0]));
		_exit(reader(M("big"), &lower, own_untouched, go[0], stop[0]));
	}
	close(go[0]);
	close(stop[0]);
	close(go[1]);
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("process %d: status %#x", i, status);
		}
	}
	close(stop[1]);
	for (; i < 8; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("reader %d: status %#x", i - 6, status);
		}
	}
	for (i = 0; i < 4; i++) {
		for (k = 0; k < NWRITES; k++) {
			own_write(i, k, &off, &len);
			fill_pattern(buf, len, wseed(off, len));
			ASSERT_EQ(0, model_write(m, off, buf, len));
		}
	}
	model_free(&lower);
	EXPECT_MODEL(M("big"), m);
	EXPECT_WHOLE("big", m);
	REMOUNT();
	EXPECT_MODEL(M("big"), m);
}

/*
 * A write to a regular file does not fail with EINTR: one that waits
 * while another process completes the file (a long copy) and catches a
 * signal meanwhile (SA_RESTART) still writes.
 */
static void on_usr1(int sig)
{
	(void)sig;
}

TEST_F_TIMEOUT(pt, write_waiting_for_completion_not_interrupted, 180)
{
	const size_t size = 128 * MB;
	struct sigaction sa = { .sa_handler = on_usr1,
				.sa_flags = SA_RESTART };
	int fd, status, i, done = 0;
	pid_t a, b;

	ASSERT_EQ(0, mkpat(L("long"), SEED_OTHER, size));
	MOUNT();
	fd = open(M("long"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	a = fork();
	ASSERT_LE(0, a);
	if (!a) {
		fd = open(M("long"), O_RDONLY | O_CLOEXEC);
		_exit(fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
	}
	usleep(20000);
	/* Before the fork: a signal must never find the default action */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	b = fork();
	ASSERT_LE(0, b);
	if (!b) {
		ssize_t n;

		fd = open(M("long"), O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(100);
		n = pwrite(fd, "x", 1, size - 1);
		_exit(n == 1 ? 0 : n < 0 ? errno : 101);
	}
	for (i = 0; i < 200 && !done; i++) {
		usleep(5000);
		kill(b, SIGUSR1);
		done = waitpid(b, &status, WNOHANG) == b;
	}
	if (!done)
		ASSERT_EQ(b, waitpid(b, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
		TH_LOG("the write: %s", WIFEXITED(status) ?
		       strerror(WEXITSTATUS(status)) : "killed");
	}
	ASSERT_EQ(a, waitpid(a, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

/*
 * mmap of a partial file completes it under the mmap lock, taking the
 * upper file's i_rwsem; a write(2) holds that i_rwsem while it faults in
 * its buffer, which takes the mmap lock: two threads of one process can
 * deadlock.  A userfaultfd region as the write's buffer holds the writer
 * in its fault, i_rwsem held, while the other thread maps the file; then
 * the fault is resolved.  A child runs it; after 20 s it is killed (the
 * writer's wait for the mmap lock is killable) and the test fails.
 */
struct dl {
	const char *path;
	int fd;
	char *buf;
	ssize_t wret;
	int werr, merr;
};

static void *dl_writer(void *arg)
{
	struct dl *d = arg;

	d->wret = pwrite(d->fd, d->buf, 4096, 0);
	d->werr = errno;
	return NULL;
}

static void *dl_mapper(void *arg)
{
	struct dl *d = arg;
	int fd = open(d->path, O_RDONLY | O_CLOEXEC);
	void *p = fd < 0 ? MAP_FAILED :
		  mmap(NULL, 2 * MB, PROT_READ, MAP_SHARED, fd, 0);

	d->merr = p == MAP_FAILED ? errno : 0;
	if (p != MAP_FAILED)
		munmap(p, 2 * MB);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* 0: no deadlock; 1: the write or the mmap failed; 2: no userfaultfd */
static int dl_child(const char *path)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	struct uffd_msg msg;
	struct pollfd pfd;
	static char page[4096] __attribute__((aligned(4096)));
	struct dl d = { .path = path };
	pthread_t a, b;
	int uffd;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return 2;
	d.buf = mmap(NULL, GRAN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d.buf == MAP_FAILED)
		return 2;
	reg.range.start = (unsigned long)d.buf;
	reg.range.len = GRAN;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return 2;
	d.fd = open(path, O_RDWR | O_CLOEXEC);
	if (d.fd < 0)
		return 1;
	if (pthread_create(&a, NULL, dl_writer, &d))
		return 1;
	/* The writer faults on its buffer, inside the write */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1 || read(uffd, &msg, sizeof(msg)) !=
	    sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
		return 1;
	if (pthread_create(&b, NULL, dl_mapper, &d))
		return 1;
	usleep(300000);		/* the mapper in ->mmap */
	memset(page, 'u', sizeof(page));
	copy.dst = msg.arg.pagefault.address & ~4095UL;
	copy.src = (unsigned long)page;
	copy.len = sizeof(page);
	if (ioctl(uffd, UFFDIO_COPY, &copy))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return d.wret == 4096 && !d.merr ? 0 : 1;
}

TEST_F_TIMEOUT(pt, write_fault_and_mmap_no_deadlock, 60)
{
	int status, i;
	pid_t pid;

	ASSERT_EQ(0, mkpat(L("dl"), SEED_OTHER, 2 * MB));
	MOUNT();
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(dl_child(M("dl")));
	for (i = 0; i < 200; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (i == 200) {
		/* Where each thread waits, for the log */
		if (system(pathf("for t in /proc/%d/task/*; do echo \"# $t:\"; sed 's/^/#   /' $t/stack; done >&2",
				 pid)))
			TH_LOG("no stacks");
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		TH_LOG("write(2) and mmap(2) of one partial file deadlocked");
		EXPECT_TRUE(false);
		return;
	}
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2)
		SKIP(return, "no userfaultfd");
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* ---- 10. descriptors opened earlier -------------------------------------- */

TEST_F(pt, reader_opened_before_sees_writes)
{
	struct model *m = &self->m;
	unsigned char buf[8 * KB];
	int fr, fr2, fw;

	LOWER(m, "big");
	MOUNT();
	fr = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fr);
	ASSERT_EQ((ssize_t)sizeof(buf), pread(fr, buf, sizeof(buf), MB));
	EXPECT_EQ(0, memcmp(buf, m->b + MB, sizeof(buf)));
	fw = open(M("big"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fw);
	/* Opened after the copy-up of the metadata, before any write */
	fr2 = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fr2);
	EXPECT_MODEL_FD(fr2, m);
	ASSERT_EQ(0, pw(fw, m, MB + 100, 4 * KB));
	ASSERT_EQ((ssize_t)sizeof(buf), pread(fr, buf, sizeof(buf), MB));
	EXPECT_EQ(0, memcmp(buf, m->b + MB, sizeof(buf)));
	EXPECT_MODEL_FD(fr, m);
	EXPECT_MODEL_FD(fr2, m);
	ASSERT_EQ(0, pw(fw, m, 3 * MB - 2, 4));
	EXPECT_MODEL_FD(fr, m);
	EXPECT_MODEL_FD(fr2, m);
	/* And after the file is completed */
	ASSERT_EQ(0, posix_fadvise(fw, 0, 0, POSIX_FADV_WILLNEED));
	ASSERT_EQ(0, pw(fw, m, 7, 7));
	EXPECT_MODEL_FD(fr, m);
	EXPECT_MODEL_FD(fr2, m);
	close(fr);
	close(fr2);
	close(fw);
	EXPECT_WHOLE("big", m);
}

/* ---- 11. overlayfs on the same upper ------------------------------------- */

static int mount_fs(struct rw_env *rw, const char *fstype, const char *extra)
{
	char *lower = lowerdir_opt((const char *const *)rw->e.layers,
				   rw->e.nlayers);
	char *opts = NULL;
	int ret;

	if (!lower)
		return -ENOMEM;
	if (asprintf(&opts, "%s,upperdir=%s,workdir=%s%s%s", lower,
		     rw->upper, rw->work, extra && *extra ? "," : "",
		     extra ?: "") < 0)
		opts = NULL;
	free(lower);
	if (!opts)
		return -ENOMEM;
	drop_caches();
	ret = mount("none", rw->e.mnt, fstype, 0, opts) ? -errno : 0;
	free(opts);
	return ret;
}

TEST_F_TIMEOUT(pt, overlay_reads_completed_refuses_partial, 120)
{
	struct model *big = &self->m, *mb1 = &self->m2;
	struct model mb = { 0 }, small = { 0 };
	unsigned char *p;
	int fd;

	if (!have_overlay())
		SKIP(return, "no overlayfs");
	LOWER(big, "big");
	LOWER(mb1, "mb1");
	ASSERT_EQ(0, model_lower(&mb, "mb"));
	ASSERT_EQ(0, model_lower(&small, "small"));
	MOUNT();
	/* big stays partial */
	ASSERT_EQ(0, pw_path(M("big"), big, MB + 100, 4 * KB));
	/* mb1 completed by fadvise, mb by reading a mapping of all of it */
	ASSERT_EQ(0, pw_path(M("mb1"), mb1, 5, 5));
	fd = open(M("mb1"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
	close(fd);
	ASSERT_EQ(0, pw_path(M("mb"), &mb, 3 * GRAN, 5));
	fd = open(M("mb"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, MB, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Every page read: every granule filled, the file complete */
	EXPECT_EQ(0, memcmp(p, mb.b, MB));
	munmap(p, MB);
	close(fd);
	ASSERT_EQ(0, pw_path(M("small"), &small, 5, 5));
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_PARTIAL("big", "big", big, GR(16));
	EXPECT_WHOLE("mb1", mb1);
	EXPECT_WHOLE("mb", &mb);
	EXPECT_WHOLE("small", &small);

	ASSERT_EQ(0, mount_fs(RW, "overlay", NULL));
	if (variant->partial) {
		EXPECT_EQ(-EIO, stat_err(M("big")));
		EXPECT_EQ(-EIO, model_diff(M("big"), big));
	} else {
		EXPECT_MODEL(M("big"), big);
	}
	EXPECT_MODEL(M("mb1"), mb1);
	EXPECT_MODEL(M("mb"), &mb);
	EXPECT_MODEL(M("small"), &small);
	ASSERT_EQ(0, rw_umount(RW));

	/* cowfs again: big unharmed; completed, overlayfs reads it */
	MOUNT();
	EXPECT_MODEL(M("big"), big);
	fd = open(M("big"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, BIG, PROT_READ, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, big->b, BIG));
	munmap(p, BIG);
	close(fd);
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_WHOLE("big", big);
	ASSERT_EQ(0, mount_fs(RW, "overlay", NULL));
	EXPECT_MODEL(M("big"), big);
	ASSERT_EQ(0, rw_umount(RW));
	model_free(&mb);
	model_free(&small);
}

/* ---- 12. hostile layers -------------------------------------------------- */

/* -errno of opening @path for write and writing a byte, 0 if it worked. */
static int write_err(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, "x", 1, 3 * GRAN) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

TEST_F(pt, hostile_lower_partial_file)
{
	unsigned char x[PX_HDR + 8];
	struct model *m = &self->m;
	size_t n;
	int ret;

	/* A lower file that looks like a partial upper file */
	ASSERT_EQ(0, mkpat(L0("hp"), SEED_OTHER, MB));
	n = mk_px(x, 0, GRAN_SHIFT, 16, MB, 2, 0x0f);
	ASSERT_EQ(0, set_x(L0("hp"), PARTIAL_XATTR, x, n));
	ASSERT_EQ(0, set_x(L0("hp"), OVL_METACOPY_XATTR, "", 1));
	/* The same over a file of the layer below (with its origin) */
	ASSERT_EQ(0, mkpat(L("hq"), SEED_BIG, MB));
	ASSERT_EQ(0, mkpat(L0("hq"), SEED_OTHER, MB));
	ASSERT_EQ(0, set_x(L0("hq"), PARTIAL_XATTR, x, n));
	ASSERT_EQ(0, set_x(L0("hq"), OVL_METACOPY_XATTR, "", 1));
	/* A partial xattr without the metacopy one: not the format */
	ASSERT_EQ(0, mkpat(L0("hr"), SEED_OTHER, MB));
	ASSERT_EQ(0, set_x(L0("hr"), PARTIAL_XATTR, x, n));
	MOUNT();
	EXPECT_EQ(-EIO, data_is(M("hp"), SEED_OTHER, MB, -1));
	EXPECT_EQ(-EIO, write_err(M("hp")));
	EXPECT_EQ(-EIO, data_is(M("hq"), SEED_OTHER, MB, -1));
	EXPECT_EQ(-EIO, data_is(M("hq"), SEED_BIG, MB, -1));
	EXPECT_EQ(-EIO, write_err(M("hq")));
	/*
	 * Its own data (the xattr ignored, as overlayfs does) or EIO, never
	 * anything else
	 */
	ret = data_is(M("hr"), SEED_OTHER, MB, -1);
	EXPECT_TRUE(ret == 0 || ret == -EIO) {
		TH_LOG("partial xattr alone in a lower layer: %d", ret);
	}
	LOWER(m, "big");
	EXPECT_MODEL(M("big"), m);
}

/*
 * An upper layer with partial files taken as a lower layer (an image
 * committed from a container without completing its files first): the
 * partial files are refused, the complete ones read right.
 */
TEST_F(pt, upper_reused_as_lower)
{
	struct model *m = &self->m, *m2 = &self->m2;
	const char *layers[2];
	char *lower, *opts = NULL;
	int fd;

	LOWER(m, "big");
	LOWER(m2, "mb1");
	MOUNT();
	ASSERT_EQ(0, pw_path(M("big"), m, MB + 100, 4 * KB));
	ASSERT_EQ(0, pw_path(M("mb1"), m2, 10, 1));
	fd = open(M("mb1"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
	close(fd);
	ASSERT_EQ(0, rw_umount(RW));
	layers[0] = RW->upper;
	layers[1] = RW->e.layers[1];
	lower = lowerdir_opt(layers, 2);
	ASSERT_NE(NULL, lower);
	ASSERT_LT(0, asprintf(&opts, "%s,copyup=%s", lower, variant->copyup));
	free(lower);
	ASSERT_EQ(0, mount_data(RW->e.mnt, opts));
	free(opts);
	if (variant->partial) {
		EXPECT_EQ(-EIO, model_diff(M("big"), m));
	} else {
		EXPECT_MODEL(M("big"), m);
	}
	EXPECT_MODEL(M("mb1"), m2);
	LOWER(m2, "mb");
	EXPECT_MODEL(M("mb"), m2);
}

/*
 * A partial upper file whose partial xattr is broken: EIO on open or
 * read, never data, on this variant's mount (which also reads partial
 * files with copyup=full).
 */
TEST_F_TIMEOUT(pt, hostile_upper_bad_partial_xattr, 120)
{
	enum { SHORT_HDR, HDR_ONLY, BM_SHORT, VERSION1, N_SMALL, N_ZERO,
	       SHIFT12, N_HUGE, LIMIT_HUGE, NO_PARTIAL, UPPER_SHORT, NBAD };
	static const char *const what[NBAD] = {
		"5 byte value", "header only", "bitmap a byte short",
		"version 1", "1 granule", "0 granules", "granule shift 12",
		"2^32-1 granules", "limit 2^64-1",
		"metacopy without partial xattr",
		"upper file shorter than the limit",
	};
	struct model *m = &self->m;
	unsigned char x[PX_HDR + 64];
	struct px good;
	unsigned int i;
	size_t n, need;
	int ret;

	/* 2 MiB files c0.., 32 granules; "ok" is left alone */
	for (i = 0; i < NBAD; i++)
		ASSERT_EQ(0, mkpat(L(pathf("c%u", i)), SEED_OTHER + i, 2 * MB));
	ASSERT_EQ(0, mkpat(L("ok"), SEED_OTHER, 2 * MB));
	ASSERT_EQ(0, rw_mount(RW, "copyup=partial"));
	for (i = 0; i < NBAD; i++)
		ASSERT_EQ(0, poke_byte(M(pathf("c%u", i)), GRAN + 5));
	ASSERT_EQ(0, poke_byte(M("ok"), GRAN + 5));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, get_px(U("ok"), &good)) {
		TH_LOG("no partial file made");
	}
	need = DIV_UP(good.n, 8);
	for (i = 0; i < NBAD; i++) {
		const char *up = U(pathf("c%u", i));

		switch (i) {
		case SHORT_HDR:
			n = 5;
			memcpy(x, good.raw, n);
			break;
		case HDR_ONLY:
			n = mk_px(x, 0, GRAN_SHIFT, 32, 2 * MB, 0, 0);
			break;
		case BM_SHORT:
			n = mk_px(x, 0, GRAN_SHIFT, 32, 2 * MB, need - 1, 2);
			break;
		case VERSION1:
			n = mk_px(x, 1, GRAN_SHIFT, 32, 2 * MB, good.bmlen, 2);
			break;
		case N_SMALL:
			n = mk_px(x, 0, GRAN_SHIFT, 1, 2 * MB, good.bmlen, 2);
			break;
		case N_ZERO:
			n = mk_px(x, 0, GRAN_SHIFT, 0, 2 * MB, good.bmlen, 2);
			break;
		case SHIFT12:
			n = mk_px(x, 0, 12, 32, 2 * MB, good.bmlen, 2);
			break;
		case N_HUGE:
			n = mk_px(x, 0, GRAN_SHIFT, 0xffffffffu, 2 * MB,
				  good.bmlen, 2);
			break;
		case LIMIT_HUGE:
			n = mk_px(x, 0, GRAN_SHIFT, 32, ~0ULL, good.bmlen, 2);
			break;
		default:
			n = 0;
			break;
		}
		if (i == NO_PARTIAL) {
			ASSERT_EQ(0, lremovexattr(up, PARTIAL_XATTR));
		} else if (i == UPPER_SHORT) {
			ASSERT_EQ(0, truncate(up, MB));
		} else {
			ASSERT_EQ(0, set_x(up, PARTIAL_XATTR, x, n));
		}
	}
	ASSERT_EQ(0, rw_mount(RW, pt_opts(variant, NULL)));
	for (i = 0; i < NBAD; i++) {
		const char *name = M(pathf("c%u", i));
		unsigned char *buf = malloc(2 * MB + 1);
		ssize_t got;

		ASSERT_NE(NULL, buf);
		got = read_file(name, (char *)buf, 2 * MB + 1);
		EXPECT_EQ(-EIO, got) {
			TH_LOG("%s: read %zd bytes, %s", what[i], got,
			       got < 0 ? strerror((int)-got) : "no error");
		}
		free(buf);
		ret = write_err(name);
		EXPECT_EQ(-EIO, ret) {
			TH_LOG("%s: write: %s", what[i],
			       ret ? strerror(-ret) : "no error");
		}
	}
	/* The good one reads right */
	ASSERT_EQ(0, model_truncate(m, 2 * MB));
	fill_pattern(m->b, 2 * MB, SEED_OTHER);
	m->b[GRAN + 5] = ~m->b[GRAN + 5];
	EXPECT_MODEL(M("ok"), m);
}

/* A partial file whose lower file cannot be found by its origin */
TEST_F(pt, hostile_missing_or_stale_origin)
{
	struct model *m = &self->m;
	int ret;

	ASSERT_EQ(0, mkpat(L("s"), SEED_OTHER, 2 * MB));
	ASSERT_EQ(0, mkpat(L("o"), SEED_OTHER + 1, 2 * MB));
	ASSERT_EQ(0, rw_mount(RW, "copyup=partial"));
	ASSERT_EQ(0, poke_byte(M("s"), 5));
	ASSERT_EQ(0, poke_byte(M("o"), 5));
	ASSERT_EQ(0, rename(M("o"), M("o2")));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_TRUE(has_x(U("s"), PARTIAL_XATTR));
	ASSERT_TRUE(has_x(U("o2"), PARTIAL_XATTR));
	/* The lower file replaced by another of the same name */
	ASSERT_EQ(0, unlink(L("s")));
	ASSERT_EQ(0, mkpat(L("s"), SEED_SMALL, 2 * MB));
	/* No origin at all */
	ASSERT_EQ(0, lremovexattr(U("o2"), OVL_ORIGIN_XATTR));
	ASSERT_EQ(0, rw_mount(RW, pt_opts(variant, NULL)));
	ret = data_is(M("s"), SEED_SMALL, 2 * MB, -1);
	EXPECT_GT(0, ret) {
		TH_LOG("stale origin: %s", ret ? "other data" :
		       "read the new lower file");
	}
	ret = data_is(M("o2"), SEED_OTHER + 1, 2 * MB, 5);
	EXPECT_EQ(-EIO, ret) {
		TH_LOG("no origin: %s", ret < 0 ? strerror(-ret) :
		       ret ? "wrong data" : "read the data");
	}
	LOWER(m, "big");
	EXPECT_MODEL(M("big"), m);
}

TEST_HARNESS_MAIN
