// SPDX-License-Identifier: GPL-2.0
/*
 * The "cowfs" generic netlink family: every operation, its errors (each
 * with an extended ack naming the attribute), the permission checks,
 * notifications, the persistence of the volume registry across rmmod and
 * insmod, and volumes attached to mounts.
 *
 * Every test points the volume store at a fresh directory under /tmp with
 * config-set; the persistence test reloads the module (COWFS_MODULE, or
 * ../kernel/cowfs.ko) and leaves it loaded with its default store.
 */
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "cowfs_util.h"
#include "cowfs_nl.h"
#include "kselftest_harness.h"

#define BIG	(1 << 20)
/* Where the store records a volume: see kernel/store.c */
#define VOLUME_XATTR	"trusted.cowfs.volume"

/* ---- requests ------------------------------------------------------------ */

static struct cnl_msg msg;

static void req(struct cnl *c, uint8_t cmd, uint16_t flags)
{
	cnl_init(&msg, c->family, cmd, flags);
}

static int config_set(struct cnl *c, const char *store)
{
	req(c, COWFS_CMD_CONFIG_SET, 0);
	cnl_put_str(&msg, COWFS_A_CONFIG_STORE, store);
	return cnl_send(c, &msg);
}

static int vol_new(struct cnl *c, const char *name, int type,
		   const char *path, uint64_t size)
{
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	if (name)
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, name);
	if (type >= 0)
		cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, type);
	if (path)
		cnl_put_str(&msg, COWFS_A_VOLUME_PATH, path);
	if (size)
		cnl_put_u64(&msg, COWFS_A_VOLUME_SIZE, size);
	return cnl_send(c, &msg);
}

static int vol_one(struct cnl *c, uint8_t cmd, const char *name)
{
	req(c, cmd, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, name);
	return cnl_send(c, &msg);
}

#define vol_del(c, name)	vol_one(c, COWFS_CMD_VOLUME_DEL, name)
#define vol_get(c, name)	vol_one(c, COWFS_CMD_VOLUME_GET, name)

static int dump(struct cnl *c, uint8_t cmd)
{
	req(c, cmd, NLM_F_DUMP);
	return cnl_send(c, &msg);
}

/* The reply of the last dump for volume @name, or NULL */
static struct nlmsghdr *dumped_volume(struct cnl *c, const char *name)
{
	struct nlmsghdr *nlh;
	struct nlattr *a;

	cnl_for_each_reply(c, nlh) {
		a = cnl_get(nlh, COWFS_A_VOLUME_NAME);
		if (a && !strcmp(cnl_attr_str(a), name))
			return nlh;
	}
	return NULL;
}

static bool volume_listed(struct cnl *c, const char *name)
{
	return !dump(c, COWFS_CMD_VOLUME_GET) && dumped_volume(c, name);
}

static const char *reply_str(struct cnl *c, int type)
{
	struct nlmsghdr *nlh = cnl_reply(c);
	struct nlattr *a = nlh ? cnl_get(nlh, type) : NULL;

	return a ? cnl_attr_str(a) : NULL;
}

static uint64_t reply_uint(struct cnl *c, int type)
{
	struct nlmsghdr *nlh = cnl_reply(c);
	struct nlattr *a = nlh ? cnl_get(nlh, type) : NULL;

	return a ? cnl_attr_uint(a) : (uint64_t)-1;
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* Remove every volume (tests share one registry) */
static void remove_all_volumes(struct cnl *c)
{
	struct nlmsghdr *nlh;
	char names[256][COWFS_VOLUME_NAME_MAX + 1];
	int i, n = 0;

	if (dump(c, COWFS_CMD_VOLUME_GET))
		return;
	cnl_for_each_reply(c, nlh) {
		struct nlattr *a = cnl_get(nlh, COWFS_A_VOLUME_NAME);

		if (a && n < 256)
			snprintf(names[n++], sizeof(names[0]), "%s", cnl_attr_str(a));
	}
	for (i = 0; i < n; i++)
		vol_del(c, names[i]);
}

/* ---- fixture ------------------------------------------------------------- */

FIXTURE(nl) {
	struct cnl c;
	char base[64];
	char store[PATH_MAX];
};

FIXTURE_SETUP(nl)
{
	int err = cnl_open(&self->c);

	if (err == -ENOENT)
		SKIP(return, "the cowfs netlink family is not registered (module not loaded?)");
	ASSERT_EQ(0, err);
	snprintf(self->base, sizeof(self->base), "/tmp/cowfs-nl-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	ASSERT_EQ(0, chmod(self->base, 0755));
	snprintf(self->store, sizeof(self->store), "%s/store", self->base);
	ASSERT_EQ(0, mkdir(self->store, 0755));
	ASSERT_EQ(0, config_set(&self->c, self->store)) {
		TH_LOG("config-set: %s", self->c.ext_msg);
	}
	remove_all_volumes(&self->c);
}

FIXTURE_TEARDOWN(nl)
{
	if (self->c.family)
		remove_all_volumes(&self->c);
	if (self->base[0]) {
		umount_below(self->base);
		rm_rf(self->base);
	}
	cnl_close(&self->c);
}

/* ---- the family ---------------------------------------------------------- */

TEST_F(nl, family)
{
	EXPECT_EQ(COWFS_FAMILY_VERSION, self->c.version);
	EXPECT_NE(0, self->c.events);
}

/* ---- config -------------------------------------------------------------- */

TEST_F(nl, config_get_set)
{
	struct cnl *c = &self->c;
	char other[PATH_MAX];

	req(c, COWFS_CMD_CONFIG_GET, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	ASSERT_STREQ(self->store, reply_str(c, COWFS_A_CONFIG_STORE));

	/* A local volume lands in the new root; the old root's is forgotten */
	ASSERT_EQ(0, vol_new(c, "in-first", COWFS_VOLUME_TYPE_LOCAL, NULL, 0));
	snprintf(other, sizeof(other), "%s/other/", self->base);
	ASSERT_EQ(0, mkdir(other, 0755));
	ASSERT_EQ(0, config_set(c, other));
	/* The path is canonical: no trailing slash */
	other[strlen(other) - 1] = '\0';
	EXPECT_STREQ(other, reply_str(c, COWFS_A_CONFIG_STORE));
	EXPECT_FALSE(volume_listed(c, "in-first"));
	ASSERT_EQ(0, vol_new(c, "in-other", COWFS_VOLUME_TYPE_LOCAL, NULL, 0));
	EXPECT_TRUE(exists(pathf("%s/in-other/_data", other)));

	/* ... and moving back loads it again */
	ASSERT_EQ(0, config_set(c, self->store));
	EXPECT_TRUE(volume_listed(c, "in-first"));
	EXPECT_FALSE(volume_listed(c, "in-other"));
	EXPECT_TRUE(exists(pathf("%s/in-other/_data", other)));

	/* Errors leave the store as it was */
	EXPECT_EQ(-ENOENT, config_set(c, pathf("%s/nonexistent", self->base)));
	EXPECT_NE(NULL, strstr(c->ext_msg, "volume store"));
	EXPECT_EQ(-EINVAL, config_set(c, "relative/path"));
	EXPECT_NE(NULL, strstr(c->ext_msg, "store"));
	EXPECT_NE(0, c->ext_bad_attr);
	EXPECT_EQ(-ENOTDIR, config_set(c, "/proc/self/status"));
	req(c, COWFS_CMD_CONFIG_SET, 0);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_EQ(COWFS_A_CONFIG_STORE, c->ext_miss_type);
	req(c, COWFS_CMD_CONFIG_GET, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_STREQ(self->store, reply_str(c, COWFS_A_CONFIG_STORE));
}

/* ---- volume types -------------------------------------------------------- */

TEST_F(nl, local_volume)
{
	struct cnl *c = &self->c;
	char *data = strdup(pathf("%s/vol.1/_data", self->store));
	struct nlmsghdr *nlh;

	ASSERT_EQ(0, vol_new(c, "vol.1", -1, NULL, 0));
	EXPECT_STREQ("vol.1", reply_str(c, COWFS_A_VOLUME_NAME));
	EXPECT_EQ(COWFS_VOLUME_TYPE_LOCAL, reply_uint(c, COWFS_A_VOLUME_TYPE));
	EXPECT_STREQ(data, reply_str(c, COWFS_A_VOLUME_PATH));
	EXPECT_NE(0, reply_uint(c, COWFS_A_VOLUME_CREATED));
	EXPECT_TRUE(exists(data));
	/* Recorded in an xattr of its directory, no text file */
	EXPECT_LT(0, getxattr(pathf("%s/vol.1", self->store), VOLUME_XATTR,
			      NULL, 0));
	EXPECT_FALSE(exists(pathf("%s/vol.1/meta", self->store)));

	ASSERT_EQ(0, vol_get(c, "vol.1"));
	EXPECT_STREQ(data, reply_str(c, COWFS_A_VOLUME_PATH));
	ASSERT_EQ(0, dump(c, COWFS_CMD_VOLUME_GET));
	nlh = dumped_volume(c, "vol.1");
	ASSERT_NE(NULL, nlh);
	EXPECT_EQ(0, cnl_count(nlh, COWFS_A_VOLUME_MOUNT_ID));

	EXPECT_EQ(-EEXIST, vol_new(c, "vol.1", -1, NULL, 0));
	EXPECT_NE(NULL, strstr(c->ext_msg, "exists"));

	/* Data, with a symlink out of the store that must not be followed */
	ASSERT_EQ(0, mkdir_p(pathf("%s/keep", self->base), 0755));
	ASSERT_EQ(0, mkfile(pathf("%s/keep/file", self->base), "keep"));
	ASSERT_EQ(0, mkdir_p(pathf("%s/a/b/c", data), 0755));
	ASSERT_EQ(0, mkfile(pathf("%s/a/b/c/f", data), "x"));
	ASSERT_EQ(0, mkfile(pathf("%s/top", data), "y"));
	ASSERT_EQ(0, symlink(pathf("%s/keep", self->base), pathf("%s/a/out", data)));

	ASSERT_EQ(0, vol_del(c, "vol.1"));
	EXPECT_FALSE(exists(pathf("%s/vol.1", self->store)));
	EXPECT_TRUE(exists(pathf("%s/keep/file", self->base)));
	EXPECT_EQ(-ENOENT, vol_get(c, "vol.1"));
	EXPECT_NE(NULL, strstr(c->ext_msg, "no volume"));
	EXPECT_EQ(-ENOENT, vol_del(c, "vol.1"));
	EXPECT_NE(0, c->ext_bad_attr);
	EXPECT_FALSE(volume_listed(c, "vol.1"));
	/* Nothing is left in the trash either */
	EXPECT_EQ(0, rmdir(pathf("%s/.trash", self->store)));
}

TEST_F(nl, bind_volume)
{
	struct cnl *c = &self->c;
	char *src = strdup(pathf("%s/src", self->base));

	ASSERT_EQ(0, mkdir(src, 0755));
	ASSERT_EQ(0, mkfile(pathf("%s/precious", src), "data"));
	/* The path is made canonical */
	ASSERT_EQ(0, vol_new(c, "b1", COWFS_VOLUME_TYPE_BIND,
			     pathf("%s/../%s/src/", self->base, self->base + 5), 0)) {
		TH_LOG("%s", c->ext_msg);
	}
	EXPECT_EQ(COWFS_VOLUME_TYPE_BIND, reply_uint(c, COWFS_A_VOLUME_TYPE));
	EXPECT_STREQ(src, reply_str(c, COWFS_A_VOLUME_PATH));
	EXPECT_FALSE(exists(pathf("%s/b1/_data", self->store)));
	ASSERT_EQ(0, vol_del(c, "b1"));
	EXPECT_TRUE(exists(pathf("%s/precious", src)));
	EXPECT_FALSE(exists(pathf("%s/b1", self->store)));

	EXPECT_EQ(-ENOENT, vol_new(c, "b2", COWFS_VOLUME_TYPE_BIND,
				   pathf("%s/nonexistent", self->base), 0));
	EXPECT_NE(NULL, strstr(c->ext_msg, "path"));
	EXPECT_NE(0, c->ext_bad_attr);
	EXPECT_EQ(-ENOTDIR, vol_new(c, "b2", COWFS_VOLUME_TYPE_BIND,
				    pathf("%s/precious", src), 0));
	EXPECT_EQ(-EINVAL, vol_new(c, "b2", COWFS_VOLUME_TYPE_BIND, "rel", 0));
	EXPECT_NE(NULL, strstr(c->ext_msg, "path"));
	EXPECT_EQ(-EINVAL, vol_new(c, "b2", COWFS_VOLUME_TYPE_BIND, NULL, 0));
	EXPECT_EQ(COWFS_A_VOLUME_PATH, c->ext_miss_type);
	EXPECT_FALSE(volume_listed(c, "b2"));
}

TEST_F(nl, tmpfs_volume)
{
	struct cnl *c = &self->c;

	ASSERT_EQ(0, vol_new(c, "t1", COWFS_VOLUME_TYPE_TMPFS, NULL, BIG));
	EXPECT_EQ(COWFS_VOLUME_TYPE_TMPFS, reply_uint(c, COWFS_A_VOLUME_TYPE));
	EXPECT_EQ(BIG, reply_uint(c, COWFS_A_VOLUME_SIZE));
	EXPECT_EQ(NULL, reply_str(c, COWFS_A_VOLUME_PATH));
	/* Memory only: nothing in the store */
	EXPECT_FALSE(exists(pathf("%s/t1", self->store)));
	ASSERT_EQ(0, vol_get(c, "t1"));
	EXPECT_EQ(BIG, reply_uint(c, COWFS_A_VOLUME_SIZE));
	ASSERT_EQ(0, vol_del(c, "t1"));
	EXPECT_EQ(-ENOENT, vol_get(c, "t1"));

	/* tmpfs options are tmpfs's mount parameters */
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "t2");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_TMPFS);
	cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "mode", "0700");
	cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "nr_inodes", "100");
	ASSERT_EQ(0, cnl_send(c, &msg)) {
		TH_LOG("%s", c->ext_msg);
	}
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "t3");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_TMPFS);
	cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "nonsense", "1");
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(NULL, strstr(c->ext_msg, "tmpfs has no option nonsense"));
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "t3");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_TMPFS);
	cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "size", "1m");
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(NULL, strstr(c->ext_msg, "size attribute"));
	EXPECT_FALSE(volume_listed(c, "t3"));
	/* Smaller than a page: the policy says no (out of range: ERANGE) */
	EXPECT_EQ(-ERANGE, vol_new(c, "t3", COWFS_VOLUME_TYPE_TMPFS, NULL, 100));
	EXPECT_NE(0, c->ext_bad_attr);
	/* size is for tmpfs only */
	EXPECT_EQ(-EINVAL, vol_new(c, "t3", COWFS_VOLUME_TYPE_LOCAL, NULL, BIG));
	EXPECT_NE(NULL, strstr(c->ext_msg, "size"));
	EXPECT_EQ(-EINVAL, vol_new(c, "t3", COWFS_VOLUME_TYPE_TMPFS, "/tmp", 0));
	EXPECT_NE(NULL, strstr(c->ext_msg, "path"));
	EXPECT_FALSE(volume_listed(c, "t3"));
}

TEST_F(nl, labels_and_options)
{
	struct cnl *c = &self->c;
	struct nlattr *a, *head, *k, *v;
	const char *keys[] = { "com.example.a", "b", "empty" };
	const char *vals[] = { "1", "two words", "" };
	struct nlmsghdr *nlh;
	int i, len, n = 0;

	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "lab");
	for (i = 0; i < 3; i++)
		cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, keys[i], vals[i]);
	cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "o", "v");
	ASSERT_EQ(0, cnl_send(c, &msg)) {
		TH_LOG("%s", c->ext_msg);
	}
	ASSERT_EQ(0, vol_get(c, "lab"));
	nlh = cnl_reply(c);
	head = cnl_msg_attrs(nlh, &len);
	cnl_for_each_attr(a, head, len) {
		if (cnl_attr_type(a) != COWFS_A_VOLUME_LABEL)
			continue;
		k = cnl_find(cnl_attr_data(a), cnl_attr_len(a), COWFS_A_KV_KEY);
		v = cnl_find(cnl_attr_data(a), cnl_attr_len(a), COWFS_A_KV_VALUE);
		ASSERT_NE(NULL, k);
		ASSERT_NE(NULL, v);
		ASSERT_LT(n, 3);
		EXPECT_STREQ(keys[n], cnl_attr_str(k));
		EXPECT_STREQ(vals[n], cnl_attr_str(v));
		n++;
	}
	EXPECT_EQ(3, n);
	EXPECT_EQ(1, cnl_count(nlh, COWFS_A_VOLUME_OPTION));
}

/* ---- malformed requests -------------------------------------------------- */

/*
 * A volume bigger than a page dumps, whatever the requester read first:
 * the kernel sizes a dump's messages by the biggest volume, not by the
 * requester's last read (a fresh socket whose first read was of a page,
 * as libnl's default, used to get -EMSGSIZE and nothing).
 */
TEST_F(nl, big_volume_dumps)
{
	struct cnl *c = &self->c, fresh = { .fd = -1 };
	struct cnl_msg *small = malloc(sizeof(*small));
	char value[3001], page[4096];
	int i;

	ASSERT_NE(NULL, small);
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "big");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_TMPFS);
	for (i = 0; i < 5; i++)
		cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, pathf("k%d", i), value);
	ASSERT_EQ(0, cnl_send(c, &msg)) {
		TH_LOG("%s", c->ext_msg);
	}

	/* A fresh socket whose only read so far took one page */
	ASSERT_EQ(0, cnl_socket(&fresh));
	fresh.family = c->family;
	cnl_init(small, fresh.family, COWFS_CMD_CONFIG_GET, 0);
	small->nlh.nlmsg_seq = ++fresh.seq;
	ASSERT_LT(0, send(fresh.fd, &small->nlh, small->nlh.nlmsg_len, 0));
	ASSERT_LT(0, recv(fresh.fd, page, sizeof(page), 0));
	ASSERT_EQ(0, dump(&fresh, COWFS_CMD_VOLUME_GET)) {
		TH_LOG("dump: %s", fresh.ext_msg);
	}
	ASSERT_NE(NULL, dumped_volume(&fresh, "big"));
	EXPECT_EQ(5, cnl_count(dumped_volume(&fresh, "big"),
			       COWFS_A_VOLUME_LABEL));
	/* And a do of it, which grows its reply as it must */
	ASSERT_EQ(0, vol_get(&fresh, "big"));
	EXPECT_EQ(5, cnl_count(cnl_reply(&fresh), COWFS_A_VOLUME_LABEL));
	cnl_close(&fresh);
	free(small);
	EXPECT_EQ(0, vol_del(c, "big"));
}

TEST_F(nl, bad_names)
{
	struct cnl *c = &self->c;
	char long_name[COWFS_VOLUME_NAME_MAX + 2];
	const char *bad[] = { "", "-a", ".a", "_a", "a/b", "a b", "a:b",
			      "..", "a\n", long_name };
	unsigned int i;

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		EXPECT_EQ(-EINVAL, vol_new(c, bad[i], -1, NULL, 0));
		EXPECT_NE(0, c->ext_bad_attr);
		/* Too long: the policy's message, with the attribute's offset */
		EXPECT_NE(NULL, strstr(c->ext_msg, "name") ?:
				strstr(c->ext_msg, "policy")) {
			TH_LOG("'%s': %s", bad[i], c->ext_msg);
		}
		EXPECT_EQ(-EINVAL, vol_del(c, bad[i]));
		EXPECT_EQ(-EINVAL, vol_get(c, bad[i]));
	}
	/* 128 characters is fine */
	long_name[COWFS_VOLUME_NAME_MAX] = '\0';
	EXPECT_EQ(0, vol_new(c, long_name, -1, NULL, 0));
	EXPECT_EQ(0, vol_new(c, "A-z_0.9", -1, NULL, 0));
	EXPECT_EQ(0, vol_new(c, "9", -1, NULL, 0));
}

TEST_F(nl, bad_attributes)
{
	struct cnl *c = &self->c;
	char big[COWFS_KV_VALUE_MAX + 2];
	int i;

	/* Missing name */
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_EQ(COWFS_A_VOLUME_NAME, c->ext_miss_type);
	req(c, COWFS_CMD_VOLUME_DEL, 0);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_EQ(COWFS_A_VOLUME_NAME, c->ext_miss_type);
	req(c, COWFS_CMD_MOUNT_GET, 0);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_EQ(COWFS_A_MOUNT_ID, c->ext_miss_type);

	/* Out of range (the policy's ERANGE), wrong type or length */
	EXPECT_EQ(-ERANGE, vol_new(c, "x", 3, NULL, 0));
	EXPECT_NE(0, c->ext_bad_attr);
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put(&msg, COWFS_A_VOLUME_NAME, "abc", 3);	/* no NUL */
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(0, c->ext_bad_attr);
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	cnl_put(&msg, COWFS_A_VOLUME_TYPE, "ab", 2);	/* short u32 */
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	req(c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u64(&msg, COWFS_A_MOUNT_ID, 0);		/* min 1 */
	EXPECT_EQ(-ERANGE, cnl_send(c, &msg));
	EXPECT_NE(0, c->ext_bad_attr);

	/* Unknown attributes, and attributes of no use to the request */
	req(c, COWFS_CMD_VOLUME_GET, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	cnl_put_u32(&msg, 200, 1);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	req(c, COWFS_CMD_VOLUME_GET, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	cnl_put_u64(&msg, COWFS_A_VOLUME_CREATED, 1);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	req(c, COWFS_CMD_CONFIG_GET, 0);
	cnl_put_u32(&msg, 1, 1);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(NULL, strstr(c->ext_msg, "no attributes"));
	req(c, COWFS_CMD_VOLUME_PRUNE, 0);
	cnl_put_u32(&msg, 1, 1);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	req(c, COWFS_CMD_VOLUME_GET, NLM_F_DUMP);
	cnl_put_u32(&msg, 1, 1);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	req(c, COWFS_CMD_MOUNT_GET, NLM_F_DUMP);
	cnl_put_u32(&msg, 1, 1);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	/* A nest without NLA_F_NESTED */
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "k", "v");
	msg.nest[0]->nla_type &= ~NLA_F_NESTED;
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	/* Notifications are not requests */
	req(c, COWFS_CMD_VOLUME_ADD_NTF, 0);
	EXPECT_EQ(-EOPNOTSUPP, cnl_send(c, &msg));

	/* Labels */
	struct { const char *key, *value, *why; } kv[] = {
		{ NULL, "v", "key is missing" },
		{ "", "v", "key" },
		{ "a=b", "v", "key" },
		{ "a\tb", "v", "key" },
		{ "k", "line\nbreak", "value" },
	};
	for (i = 0; i < (int)ARRAY_LEN(kv); i++) {
		req(c, COWFS_CMD_VOLUME_NEW, 0);
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
		cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, kv[i].key, kv[i].value);
		EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
		EXPECT_NE(0, c->ext_bad_attr);
		EXPECT_NE(NULL, strstr(c->ext_msg, kv[i].why)) {
			TH_LOG("label %d: %s", i, c->ext_msg);
		}
	}
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "k", "1");
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "k", "2");
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(NULL, strstr(c->ext_msg, "label: duplicate key"));
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	for (i = 0; i <= COWFS_KV_MAX; i++)
		cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, pathf("k%d", i), "v");
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(NULL, strstr(c->ext_msg, "too many"));
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "k", big);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	big[COWFS_KV_VALUE_MAX] = '\0';
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "x");
	for (i = 0; i < 4; i++)
		cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, pathf("k%d", i), big);
	EXPECT_EQ(-EINVAL, cnl_send(c, &msg));
	EXPECT_NE(NULL, strstr(c->ext_msg, "too big"));

	EXPECT_FALSE(volume_listed(c, "x"));
}

TEST_F(nl, store_unavailable)
{
	struct cnl *c = &self->c;
	char *gone = strdup(pathf("%s/gone", self->base));

	/* The store's directory disappears under us */
	ASSERT_EQ(0, mkdir(gone, 0755));
	ASSERT_EQ(0, config_set(c, gone));
	ASSERT_EQ(0, rmdir(gone));
	EXPECT_EQ(-ENOENT, vol_new(c, "v", -1, NULL, 0));
	EXPECT_NE(NULL, strstr(c->ext_msg, "create")) {
		TH_LOG("%s", c->ext_msg);
	}
	/* tmpfs volumes don't need the store */
	EXPECT_EQ(0, vol_new(c, "t", COWFS_VOLUME_TYPE_TMPFS, NULL, 0));
	EXPECT_EQ(0, vol_del(c, "t"));
}

/* ---- prune --------------------------------------------------------------- */

TEST_F(nl, prune)
{
	struct cnl *c = &self->c;
	char *src = strdup(pathf("%s/src", self->base));
	char buf[65536];
	bool seen_l1 = false, seen_l2 = false, seen_t = false, other = false;
	struct nlattr *a, *head;
	int len, fd;

	ASSERT_EQ(0, mkdir(src, 0755));
	ASSERT_EQ(0, mkfile(pathf("%s/keep", src), "keep"));
	ASSERT_EQ(0, vol_new(c, "l1", -1, NULL, 0));
	ASSERT_EQ(0, vol_new(c, "l2", -1, NULL, 0));
	ASSERT_EQ(0, vol_new(c, "t", COWFS_VOLUME_TYPE_TMPFS, NULL, 0));
	ASSERT_EQ(0, vol_new(c, "b", COWFS_VOLUME_TYPE_BIND, src, 0));
	memset(buf, 'x', sizeof(buf));
	fd = open(pathf("%s/l1/_data/big", self->store), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, fsync(fd));
	close(fd);

	req(c, COWFS_CMD_VOLUME_PRUNE, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	head = cnl_msg_attrs(cnl_reply(c), &len);
	cnl_for_each_attr(a, head, len) {
		if (cnl_attr_type(a) != COWFS_A_VOLUME_PRUNED)
			continue;
		if (!strcmp(cnl_attr_str(a), "l1"))
			seen_l1 = true;
		else if (!strcmp(cnl_attr_str(a), "l2"))
			seen_l2 = true;
		else if (!strcmp(cnl_attr_str(a), "t"))
			seen_t = true;
		else
			other = true;
	}
	EXPECT_TRUE(seen_l1);
	EXPECT_TRUE(seen_l2);
	EXPECT_TRUE(seen_t);
	EXPECT_FALSE(other);
	EXPECT_LE(sizeof(buf), reply_uint(c, COWFS_A_VOLUME_RECLAIMED));
	EXPECT_FALSE(exists(pathf("%s/l1", self->store)));
	EXPECT_FALSE(volume_listed(c, "t"));
	/* Bind volumes stay, their data too */
	EXPECT_TRUE(volume_listed(c, "b"));
	EXPECT_TRUE(exists(pathf("%s/keep", src)));

	/* Nothing left to prune */
	req(c, COWFS_CMD_VOLUME_PRUNE, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_EQ(0, cnl_count(cnl_reply(c), COWFS_A_VOLUME_PRUNED));
	EXPECT_EQ(0, reply_uint(c, COWFS_A_VOLUME_RECLAIMED));
}

/* ---- permissions --------------------------------------------------------- */

static int mutations(struct cnl *c, const char *store)
{
	int err = 0;

#define EXPECT_EPERM(expr) do { if ((expr) != -EPERM) err |= 1; } while (0)
	EXPECT_EPERM(vol_new(c, "perm", -1, NULL, 0));
	EXPECT_EPERM(vol_new(c, "perm", COWFS_VOLUME_TYPE_TMPFS, NULL, 0));
	EXPECT_EPERM(vol_del(c, "keepme"));
	req(c, COWFS_CMD_VOLUME_PRUNE, 0);
	EXPECT_EPERM(cnl_send(c, &msg));
	EXPECT_EPERM(config_set(c, store));
#undef EXPECT_EPERM
	return err;
}

/*
 * Without CAP_SYS_ADMIN volumes and mounts are hidden, not refused; the
 * configuration (a host path) is refused.
 */
static int reads(struct cnl *c)
{
	int err = 0;

	if (dump(c, COWFS_CMD_VOLUME_GET) || c->rlen)
		err |= 2;
	if (vol_get(c, "keepme") != -ENOENT)
		err |= 2;
	if (dump(c, COWFS_CMD_MOUNT_GET) || c->rlen)
		err |= 4;
	req(c, COWFS_CMD_CONFIG_GET, 0);
	if (cnl_send(c, &msg) != -EPERM || c->rlen)
		err |= 8;
	return err;
}

static int as_nobody(const void *arg)
{
	struct cnl c;
	int err;

	if (cnl_open(&c))
		return 16;
	err = mutations(&c, arg) | reads(&c);
	cnl_close(&c);
	return err;
}

/* Drop only CAP_SYS_ADMIN: CAP_NET_ADMIN (genetlink's check) is not enough */
static int without_sys_admin(const void *arg)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	struct cnl c;
	int err;

	if (syscall(SYS_capget, &hdr, data))
		return 32;
	data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (syscall(SYS_capset, &hdr, data))
		return 32;
	if (cnl_open(&c))
		return 16;
	err = mutations(&c, arg);
	if (!strstr(c.ext_msg, "CAP_SYS_ADMIN"))
		err |= 64;
	err |= reads(&c);
	cnl_close(&c);
	return err;
}

static int run_child(int (*fn)(const void *arg), const void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(arg) & 0xff);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(nl, unprivileged)
{
	struct cnl *c = &self->c;

	ASSERT_EQ(0, vol_new(c, "keepme", -1, NULL, 0));
	/* uid 65534: no capabilities at all */
	EXPECT_EQ(0, run_as_nobody(as_nobody, self->base));
	/* root without CAP_SYS_ADMIN */
	EXPECT_EQ(0, run_child(without_sys_admin, self->base));
	/* Nothing changed */
	EXPECT_TRUE(volume_listed(c, "keepme"));
	EXPECT_FALSE(volume_listed(c, "perm"));
	req(c, COWFS_CMD_CONFIG_GET, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_STREQ(self->store, reply_str(c, COWFS_A_CONFIG_STORE));
}

/* ---- mounts and events --------------------------------------------------- */

static int mount_lowers(const char *base, const char *mnt)
{
	char *opts = strdup(pathf("lowerdir=%s/l0:%s/l1", base, base));

	if (mkdir_p(pathf("%s/l0", base), 0755) ||
	    mkdir_p(pathf("%s/l1", base), 0755) || mkdir_p(mnt, 0755))
		return -EIO;
	return mount("none", mnt, "cowfs", 0, opts) ? -errno : 0;
}

/* The dumped mount whose lower layer list starts with @top, or NULL */
static struct nlmsghdr *dumped_mount(struct cnl *c, const char *top)
{
	struct nlmsghdr *nlh;
	struct nlattr *a;

	cnl_for_each_reply(c, nlh) {
		a = cnl_get(nlh, COWFS_A_MOUNT_LOWER);
		if (a && !strcmp(cnl_attr_str(a), top))
			return nlh;
	}
	return NULL;
}

TEST_F(nl, mount_get)
{
	struct cnl *c = &self->c;
	char *mnt = strdup(pathf("%s/m", self->base));
	char *l0 = strdup(pathf("%s/l0", self->base));
	char *l1 = strdup(pathf("%s/l1", self->base));
	struct nlattr *a, *head;
	struct nlmsghdr *nlh;
	struct stat st;
	uint64_t id;
	int len, n = 0;

	ASSERT_EQ(0, mount_lowers(self->base, mnt));
	ASSERT_EQ(0, stat(mnt, &st));
	ASSERT_EQ(0, mkfile(pathf("%s/f", l1), "x"));
	ASSERT_EQ(0, stat(pathf("%s/f", mnt), &st) ? -1 : stat(mnt, &st));

	ASSERT_EQ(0, dump(c, COWFS_CMD_MOUNT_GET));
	nlh = dumped_mount(c, l0);
	ASSERT_NE(NULL, nlh);
	a = cnl_get(nlh, COWFS_A_MOUNT_ID);
	ASSERT_NE(NULL, a);
	id = cnl_attr_uint(a);
	EXPECT_NE(0, id);
	EXPECT_EQ(major(st.st_dev), cnl_attr_uint(cnl_get(nlh, COWFS_A_MOUNT_DEV_MAJOR)));
	EXPECT_EQ(minor(st.st_dev), cnl_attr_uint(cnl_get(nlh, COWFS_A_MOUNT_DEV_MINOR)));
	head = cnl_msg_attrs(nlh, &len);
	cnl_for_each_attr(a, head, len) {
		if (cnl_attr_type(a) != COWFS_A_MOUNT_LOWER)
			continue;
		EXPECT_STREQ(n ? l1 : l0, cnl_attr_str(a));
		n++;
	}
	EXPECT_EQ(2, n);
	a = cnl_get(nlh, COWFS_A_MOUNT_OPTIONS);
	ASSERT_NE(NULL, a);
	EXPECT_NE(NULL, strstr(cnl_attr_str(a), "lowerdir="));
	EXPECT_NE(',', cnl_attr_str(a)[0]);
	EXPECT_EQ(NULL, cnl_get(nlh, COWFS_A_MOUNT_UPPER));
	EXPECT_EQ(NULL, cnl_get(nlh, COWFS_A_MOUNT_WORK));
	EXPECT_NE(NULL, cnl_get(nlh, COWFS_A_MOUNT_LOOKUPS));
	EXPECT_NE(NULL, cnl_get(nlh, COWFS_A_MOUNT_COPY_UPS));
	EXPECT_NE(NULL, cnl_get(nlh, COWFS_A_MOUNT_COPY_UP_BYTES));
	EXPECT_NE(NULL, cnl_get(nlh, COWFS_A_MOUNT_WHITEOUTS));

	req(c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u64(&msg, COWFS_A_MOUNT_ID, id);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_EQ(id, reply_uint(c, COWFS_A_MOUNT_ID));
	EXPECT_STREQ(l0, reply_str(c, COWFS_A_MOUNT_LOWER));
	/* A uint may also come as 4 bytes */
	req(c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u32(&msg, COWFS_A_MOUNT_ID, (uint32_t)id);
	ASSERT_EQ(0, cnl_send(c, &msg));

	ASSERT_EQ(0, umount(mnt));
	req(c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u64(&msg, COWFS_A_MOUNT_ID, id);
	EXPECT_EQ(-ENOENT, cnl_send(c, &msg));
	EXPECT_NE(0, c->ext_bad_attr);
	ASSERT_EQ(0, dump(c, COWFS_CMD_MOUNT_GET));
	EXPECT_EQ(NULL, dumped_mount(c, l0));
}

/* ---- reads scoped to the caller ----------------------------------------- */

#define SCOPE_LABEL	"scope-secret-label"

/* Does the raw reply of the last request hold @s anywhere? */
static bool replied(struct cnl *c, const char *s)
{
	return c->rlen && memmem(c->rbuf, c->rlen, s, strlen(s));
}

struct scope_args {
	const char *base;	/* every layer, work dir and bind source under it */
	uint64_t id;		/* the union's mount id */
	bool new_netns;
};

/*
 * What a caller without CAP_SYS_ADMIN sees: empty dumps, ENOENT for the
 * mount and volume that exist as for those that do not, with the same
 * extended ack, and no way into the events group.
 */
static int scoped_reads(const void *arg)
{
	const struct scope_args *a = arg;
	char msg1[sizeof(((struct cnl *)0)->ext_msg)];
	struct cnl c;
	int err = 0;

	if (a->new_netns && unshare(CLONE_NEWNET))
		return 100;
	if (setgroups(0, NULL) || setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
	    setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID))
		return 101;
	if (cnl_open(&c))
		return 102;

#define FAIL(bit, what) do { err |= (bit); \
	fprintf(stderr, "# %s: %s (ext ack \"%s\")\n", \
		a->new_netns ? "nobody, new netns" : "nobody", what, c.ext_msg); \
	} while (0)
	/* (1) dumps list none of it */
	if (dump(&c, COWFS_CMD_MOUNT_GET))
		FAIL(1, "mount-get dump failed");
	if (replied(&c, a->base) || c.rlen)
		FAIL(1, "mount-get dump shows a mount");
	if (dump(&c, COWFS_CMD_VOLUME_GET))
		FAIL(2, "volume-get dump failed");
	if (replied(&c, a->base) || replied(&c, SCOPE_LABEL) || c.rlen)
		FAIL(2, "volume-get dump shows a volume");

	/* (2) a do: the existing object answers as a missing one */
	req(&c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u64(&msg, COWFS_A_MOUNT_ID, a->id);
	if (cnl_send(&c, &msg) != -ENOENT || replied(&c, a->base))
		FAIL(4, "mount-get of the union's id is not ENOENT");
	snprintf(msg1, sizeof(msg1), "%s", c.ext_msg);
	req(&c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u64(&msg, COWFS_A_MOUNT_ID, a->id + 1000000);
	if (cnl_send(&c, &msg) != -ENOENT)
		FAIL(4, "mount-get of a missing id is not ENOENT");
	if (strcmp(msg1, c.ext_msg))
		FAIL(4, "mount-get: an existing id is told from a missing one");
	if (vol_get(&c, "scoped") != -ENOENT || replied(&c, SCOPE_LABEL))
		FAIL(8, "volume-get of the bind volume is not ENOENT");
	if (!strstr(c.ext_msg, "no volume scoped"))
		FAIL(8, "volume-get: no extended ack");
	if (vol_get(&c, "scoped-missing") != -ENOENT)
		FAIL(8, "volume-get of a missing volume is not ENOENT");

	/* (3) the events group is closed */
	if (cnl_subscribe(&c) != -EPERM)
		FAIL(16, "joined the events group");
	/* (5) the configuration names a host path too */
	req(&c, COWFS_CMD_CONFIG_GET, 0);
	if (cnl_send(&c, &msg) != -EPERM || c.rlen)
		FAIL(32, "config-get answered");
	if (!strstr(c.ext_msg, "CAP_SYS_ADMIN"))
		FAIL(32, "config-get: no extended ack");
#undef FAIL
	cnl_close(&c);
	return err;
}

TEST_F(nl, reads_scoped)
{
	struct cnl *c = &self->c, ev;
	char *mnt = strdup(pathf("%s/m", self->base));
	char *src = strdup(pathf("%s/src", self->base));
	char *opts = strdup(pathf("lowerdir=%s/l0,upperdir=%s/u,workdir=%s/w",
				  self->base, self->base, self->base));
	struct scope_args args = { .base = self->base };
	struct nlmsghdr *nlh;

	ASSERT_EQ(0, mkdir_p(pathf("%s/l0", self->base), 0755));
	ASSERT_EQ(0, mkdir_p(pathf("%s/u", self->base), 0755));
	ASSERT_EQ(0, mkdir_p(pathf("%s/w", self->base), 0755));
	ASSERT_EQ(0, mkdir_p(mnt, 0755));
	ASSERT_EQ(0, mkdir_p(src, 0755));
	ASSERT_EQ(0, mount("none", mnt, "cowfs", 0, opts));
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "scoped");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_BIND);
	cnl_put_str(&msg, COWFS_A_VOLUME_PATH, src);
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "owner", SCOPE_LABEL);
	ASSERT_EQ(0, cnl_send(c, &msg)) {
		TH_LOG("volume-new: %s", c->ext_msg);
	}

	/* (4) root sees everything */
	ASSERT_EQ(0, dump(c, COWFS_CMD_MOUNT_GET));
	nlh = dumped_mount(c, pathf("%s/l0", self->base));
	ASSERT_NE(NULL, nlh);
	args.id = cnl_attr_uint(cnl_get(nlh, COWFS_A_MOUNT_ID));
	EXPECT_STREQ(pathf("%s/u", self->base),
		     cnl_attr_str(cnl_get(nlh, COWFS_A_MOUNT_UPPER)));
	EXPECT_STREQ(pathf("%s/w", self->base),
		     cnl_attr_str(cnl_get(nlh, COWFS_A_MOUNT_WORK)));
	req(c, COWFS_CMD_MOUNT_GET, 0);
	cnl_put_u64(&msg, COWFS_A_MOUNT_ID, args.id);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_TRUE(replied(c, pathf("%s/u", self->base)));
	ASSERT_EQ(0, dump(c, COWFS_CMD_VOLUME_GET));
	EXPECT_NE(NULL, dumped_volume(c, "scoped"));
	EXPECT_TRUE(replied(c, src));
	EXPECT_TRUE(replied(c, SCOPE_LABEL));
	ASSERT_EQ(0, vol_get(c, "scoped"));
	EXPECT_TRUE(replied(c, SCOPE_LABEL));
	ASSERT_EQ(0, cnl_open(&ev));
	EXPECT_EQ(0, cnl_subscribe(&ev));
	cnl_close(&ev);

	/* (1)-(3) nobody in a new network namespace, and in the initial one */
	args.new_netns = true;
	EXPECT_EQ(0, run_child(scoped_reads, &args));
	args.new_netns = false;
	EXPECT_EQ(0, run_child(scoped_reads, &args));

	ASSERT_EQ(0, umount(mnt));
	ASSERT_EQ(0, vol_del(c, "scoped"));
}

TEST_F(nl, events)
{
	struct cnl *c = &self->c, ev;
	char *mnt = strdup(pathf("%s/m", self->base));
	struct nlmsghdr *nlh;
	uint64_t id;

	ASSERT_EQ(0, cnl_open(&ev));
	ASSERT_EQ(0, cnl_subscribe(&ev));

	ASSERT_EQ(0, vol_new(c, "ev1", -1, NULL, 0));
	EXPECT_EQ(0, cnl_wait_ntf(&ev, COWFS_CMD_VOLUME_ADD_NTF,
				  COWFS_A_VOLUME_NAME, "ev1", 0, 5000));
	ASSERT_EQ(0, vol_del(c, "ev1"));
	EXPECT_EQ(0, cnl_wait_ntf(&ev, COWFS_CMD_VOLUME_DEL_NTF,
				  COWFS_A_VOLUME_NAME, "ev1", 0, 5000));
	ASSERT_EQ(0, vol_new(c, "ev2", COWFS_VOLUME_TYPE_TMPFS, NULL, 0));
	EXPECT_EQ(0, cnl_wait_ntf(&ev, COWFS_CMD_VOLUME_ADD_NTF,
				  COWFS_A_VOLUME_NAME, "ev2", 0, 5000));
	req(c, COWFS_CMD_VOLUME_PRUNE, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_EQ(0, cnl_wait_ntf(&ev, COWFS_CMD_VOLUME_DEL_NTF,
				  COWFS_A_VOLUME_NAME, "ev2", 0, 5000));

	ASSERT_EQ(0, mount_lowers(self->base, mnt));
	ASSERT_EQ(0, dump(c, COWFS_CMD_MOUNT_GET));
	nlh = dumped_mount(c, pathf("%s/l0", self->base));
	ASSERT_NE(NULL, nlh);
	id = cnl_attr_uint(cnl_get(nlh, COWFS_A_MOUNT_ID));
	EXPECT_EQ(0, cnl_wait_ntf(&ev, COWFS_CMD_MOUNT_ADD_NTF,
				  COWFS_A_MOUNT_ID, NULL, id, 5000));
	ASSERT_EQ(0, umount(mnt));
	EXPECT_EQ(0, cnl_wait_ntf(&ev, COWFS_CMD_MOUNT_DEL_NTF,
				  COWFS_A_MOUNT_ID, NULL, id, 5000));
	cnl_close(&ev);
}

/* ---- parallel requests --------------------------------------------------- */

TEST_F(nl, parallel)
{
	struct cnl *c = &self->c;
	pid_t pids[4];
	int i, status, fails = 0;

	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			struct cnl pc;
			int j, bad = 0;
			char name[32];

			if (cnl_open(&pc))
				_exit(1);
			for (j = 0; j < 25; j++) {
				snprintf(name, sizeof(name), "p%d-%d", i, j);
				bad |= vol_new(&pc, name, j % 3 == 2 ?
					       COWFS_VOLUME_TYPE_TMPFS : -1, NULL, 0) != 0;
				/* Everyone races for the same name too */
				vol_new(&pc, "shared", -1, NULL, 0);
				bad |= dump(&pc, COWFS_CMD_VOLUME_GET) != 0;
				if (j % 2)
					bad |= vol_del(&pc, name) != 0;
				vol_del(&pc, "shared");
			}
			_exit(bad);
		}
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		fails += !WIFEXITED(status) || WEXITSTATUS(status);
	}
	EXPECT_EQ(0, fails);
	ASSERT_EQ(0, dump(c, COWFS_CMD_VOLUME_GET));
	EXPECT_NE(NULL, dumped_volume(c, "p0-0"));
	EXPECT_EQ(NULL, dumped_volume(c, "p3-1"));
}

/* ---- persistence --------------------------------------------------------- */

static int run(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *module_path(void)
{
	const char *ko = getenv("COWFS_MODULE");

	return ko && *ko ? ko : "../kernel/cowfs.ko";
}

TEST_F(nl, persistence)
{
	struct cnl *c = &self->c;
	char *src = strdup(pathf("%s/src", self->base));
	struct nlmsghdr *nlh;
	static char rec[65536];
	uint64_t created;
	struct nlattr *a;
	char cmd[PATH_MAX * 2];
	ssize_t len;

	if (access(module_path(), R_OK))
		SKIP(return, "no module to reload at %s", module_path());
	ASSERT_EQ(0, mkdir(src, 0755));
	req(c, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "keep-local");
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "com.example", "a=b c");
	cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "o", "1");
	ASSERT_EQ(0, cnl_send(c, &msg));
	created = reply_uint(c, COWFS_A_VOLUME_CREATED);
	ASSERT_EQ(0, mkfile(pathf("%s/keep-local/_data/file", self->store), "data"));
	ASSERT_EQ(0, vol_new(c, "keep-bind", COWFS_VOLUME_TYPE_BIND, src, 0));
	ASSERT_EQ(0, vol_new(c, "gone-tmpfs", COWFS_VOLUME_TYPE_TMPFS, NULL, 0));
	/* Broken volumes and trash left over are dealt with at load */
	ASSERT_EQ(0, mkdir_p(pathf("%s/broken", self->store), 0755));
	ASSERT_EQ(0, setxattr(pathf("%s/broken", self->store), VOLUME_XATTR,
			      "garbage\n", 8, 0));
	/* keep-local's own record, at another name */
	ASSERT_EQ(0, mkdir_p(pathf("%s/impostor/_data", self->store), 0755));
	len = getxattr(pathf("%s/keep-local", self->store), VOLUME_XATTR,
		       rec, sizeof(rec));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, setxattr(pathf("%s/impostor", self->store), VOLUME_XATTR,
			      rec, len, 0));
	ASSERT_EQ(0, mkdir_p(pathf("%s/.trash/old#1/x/y", self->store), 0755));
	ASSERT_EQ(0, mkfile(pathf("%s/.trash/old#1/x/y/z", self->store), "z"));
	cnl_close(c);

	/* Reload with the store as a module parameter */
	ASSERT_EQ(0, run("rmmod cowfs")) {
		TH_LOG("rmmod failed: cowfs still in use?");
	}
	snprintf(cmd, sizeof(cmd), "insmod %s store=%s", module_path(), self->store);
	ASSERT_EQ(0, run(cmd));
	ASSERT_EQ(0, cnl_open(c));

	req(c, COWFS_CMD_CONFIG_GET, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_STREQ(self->store, reply_str(c, COWFS_A_CONFIG_STORE));
	ASSERT_EQ(0, vol_get(c, "keep-local"));
	nlh = cnl_reply(c);
	EXPECT_EQ(created, reply_uint(c, COWFS_A_VOLUME_CREATED));
	EXPECT_STREQ(pathf("%s/keep-local/_data", self->store),
		     reply_str(c, COWFS_A_VOLUME_PATH));
	a = cnl_get(nlh, COWFS_A_VOLUME_LABEL);
	ASSERT_NE(NULL, a);
	EXPECT_STREQ("a=b c", cnl_nest_str(a, COWFS_A_KV_VALUE));
	EXPECT_EQ(1, cnl_count(nlh, COWFS_A_VOLUME_OPTION));
	ASSERT_EQ(0, vol_get(c, "keep-bind"));
	EXPECT_EQ(COWFS_VOLUME_TYPE_BIND, reply_uint(c, COWFS_A_VOLUME_TYPE));
	EXPECT_STREQ(src, reply_str(c, COWFS_A_VOLUME_PATH));
	EXPECT_EQ(-ENOENT, vol_get(c, "gone-tmpfs"));
	EXPECT_EQ(-ENOENT, vol_get(c, "broken"));
	EXPECT_EQ(-ENOENT, vol_get(c, "impostor"));
	EXPECT_TRUE(exists(pathf("%s/broken", self->store)));
	EXPECT_TRUE(exists(pathf("%s/impostor/_data", self->store)));
	EXPECT_FALSE(exists(pathf("%s/.trash/old#1", self->store)));

	/* Still fully working: delete after reload */
	ASSERT_EQ(0, vol_del(c, "keep-local"));
	EXPECT_FALSE(exists(pathf("%s/keep-local", self->store)));
	cnl_close(c);

	/* Leave the module loaded as the runner loaded it */
	ASSERT_EQ(0, run("rmmod cowfs"));
	snprintf(cmd, sizeof(cmd), "insmod %s", module_path());
	ASSERT_EQ(0, run(cmd));
	ASSERT_EQ(0, cnl_open(c));
	ASSERT_EQ(0, config_set(c, self->store));
}

/* ---- volumes in mounts (needs the lead's volume= mount option) ----------- */

/*
 * Mount a union of @lower with volume @vol at /data: 0, -errno, or
 * -ENOPARAM when cowfs has no "volume" option yet.
 */
#define ENOPARAM 1000
static int mount_with_volume(const char *mnt, const char *lower,
			     const char *vol)
{
	char *upper = strdup(pathf("%s/../upper", lower));
	char *work = strdup(pathf("%s/../work", lower));
	struct fsparam p[] = {
		{ "lowerdir+", lower },
		{ "upperdir", upper },
		{ "workdir", work },
		{ "volume", vol },
	};
	char log[4096];
	int err;

	/* A fresh upper layer each time: a new container */
	rm_rf(upper);
	rm_rf(work);
	if (mkdir_p(upper, 0755) || mkdir_p(work, 0755))
		return -EIO;
	err = fsapi_mount(mnt, p, ARRAY_LEN(p), log, sizeof(log));
	free(upper);
	free(work);
	if (err == -EINVAL && strstr(log, "Unknown parameter"))
		return -ENOPARAM;
	if (err)
		fprintf(stderr, "# mount: %s: %s", strerror(-err), log);
	return err;
}

TEST_F(nl, volume_in_mount)
{
	struct cnl *c = &self->c;
	char *lower = strdup(pathf("%s/lower", self->base));
	char *mnt = strdup(pathf("%s/m", self->base));
	char *src = strdup(pathf("%s/src", self->base));
	struct nlmsghdr *nlh;
	struct nlattr *a;
	char buf[64];
	uint64_t id;
	int err;

	ASSERT_EQ(0, mkdir_p(pathf("%s/data", lower), 0755));
	ASSERT_EQ(0, mkdir_p(mnt, 0755));
	ASSERT_EQ(0, mkdir_p(src, 0755));
	ASSERT_EQ(0, vol_new(c, "app-data", -1, NULL, 0));

	err = mount_with_volume(mnt, lower, "nonexistent:/data");
	if (err == -ENOPARAM)
		SKIP(return, "cowfs has no 'volume' mount option yet (Unknown parameter)");
	EXPECT_EQ(-ENOENT, err);

	/* The container story: write through one union, read in the next */
	ASSERT_EQ(0, mount_with_volume(mnt, lower, "app-data:/data"));
	ASSERT_EQ(0, dump(c, COWFS_CMD_MOUNT_GET));
	nlh = dumped_mount(c, lower);
	ASSERT_NE(NULL, nlh);
	id = cnl_attr_uint(cnl_get(nlh, COWFS_A_MOUNT_ID));
	a = cnl_get(nlh, COWFS_A_MOUNT_VOLUME);
	ASSERT_NE(NULL, a);
	EXPECT_STREQ("app-data", cnl_nest_str(a, COWFS_A_MOUNT_VOLUME_NAME));
	EXPECT_STREQ("/data", cnl_nest_str(a, COWFS_A_MOUNT_VOLUME_TARGET));
	ASSERT_EQ(0, vol_get(c, "app-data"));
	EXPECT_EQ(id, reply_uint(c, COWFS_A_VOLUME_MOUNT_ID));

	ASSERT_EQ(0, mkfile(pathf("%s/data/hello", mnt), "persisted"));
	EXPECT_EQ(-EBUSY, vol_del(c, "app-data"));
	snprintf(buf, sizeof(buf), "in use by mount %llu", (unsigned long long)id);
	EXPECT_NE(NULL, strstr(c->ext_msg, buf)) {
		TH_LOG("%s", c->ext_msg);
	}
	EXPECT_EQ(-EBUSY, config_set(c, self->store));
	req(c, COWFS_CMD_VOLUME_PRUNE, 0);
	ASSERT_EQ(0, cnl_send(c, &msg));
	EXPECT_EQ(0, cnl_count(cnl_reply(c), COWFS_A_VOLUME_PRUNED));
	ASSERT_EQ(0, umount(mnt));

	EXPECT_STREQ("persisted", slurp(pathf("%s/app-data/_data/hello", self->store)));
	ASSERT_EQ(0, mount_with_volume(mnt, lower, "app-data:/data"));
	EXPECT_STREQ("persisted", slurp(pathf("%s/data/hello", mnt)));
	ASSERT_EQ(0, umount(mnt));

	/* Bind and tmpfs volumes attach too */
	ASSERT_EQ(0, vol_new(c, "b", COWFS_VOLUME_TYPE_BIND, src, 0));
	ASSERT_EQ(0, mount_with_volume(mnt, lower, "b:/data"));
	EXPECT_EQ(-EBUSY, vol_del(c, "b"));
	ASSERT_EQ(0, umount(mnt));
	ASSERT_EQ(0, vol_new(c, "t", COWFS_VOLUME_TYPE_TMPFS, NULL, 0));
	ASSERT_EQ(0, mount_with_volume(mnt, lower, "t:/data"));
	EXPECT_EQ(-EBUSY, vol_del(c, "t"));
	ASSERT_EQ(0, umount(mnt));

	ASSERT_EQ(0, vol_del(c, "app-data"));
	ASSERT_EQ(0, vol_del(c, "b"));
	ASSERT_EQ(0, vol_del(c, "t"));
}

TEST_HARNESS_MAIN
