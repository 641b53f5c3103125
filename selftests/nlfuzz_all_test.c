// SPDX-License-Identifier: GPL-2.0
/*
 * The "cowfs" netlink family under load, beyond nlfuzz_test (which sends
 * only requests that must fail): every request command, valid or with one
 * fault, checked against a model of the registry (results, errno, reply
 * contents, and the notifications they cause); many processes at once,
 * root and unprivileged, with unions mounted and unmounted under them and
 * volumes deleted while mounts attach them; and dumps abandoned halfway.
 *
 * COWFS_FUZZ_SEED and COWFS_FUZZ_ITERS override the seed (printed) and the
 * number of requests of the model test.
 */
#include <signal.h>
#include <time.h>

#include "cowfs_util.h"
#include "cowfs_nl.h"
#include "kselftest_harness.h"

static struct cnl_msg msg;

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)random() % n : 0;
}

/* ---- requests ------------------------------------------------------------- */

static int vol_new(struct cnl *c, const char *name, int type, const char *path,
		   uint64_t size, int nlabels)
{
	int i;

	cnl_init(&msg, c->family, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, name);
	if (type >= 0)
		cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, type);
	if (path)
		cnl_put_str(&msg, COWFS_A_VOLUME_PATH, path);
	if (size)
		cnl_put_u64(&msg, COWFS_A_VOLUME_SIZE, size);
	for (i = 0; i < nlabels; i++)
		cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, pathf("k%d", i), pathf("v%d", i));
	return cnl_send(c, &msg);
}

static int vol_one(struct cnl *c, uint8_t cmd, const char *name)
{
	cnl_init(&msg, c->family, cmd, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, name);
	return cnl_send(c, &msg);
}

static int dump(struct cnl *c, uint8_t cmd)
{
	cnl_init(&msg, c->family, cmd, NLM_F_DUMP);
	return cnl_send(c, &msg);
}

static int config_set(struct cnl *c, const char *store)
{
	cnl_init(&msg, c->family, COWFS_CMD_CONFIG_SET, 0);
	cnl_put_str(&msg, COWFS_A_CONFIG_STORE, store);
	return cnl_send(c, &msg);
}

static const char *config_store(struct cnl *c)
{
	static char store[PATH_MAX];
	struct nlmsghdr *nlh;
	struct nlattr *a;

	cnl_init(&msg, c->family, COWFS_CMD_CONFIG_GET, 0);
	if (cnl_send(c, &msg) || !(nlh = cnl_reply(c)) ||
	    !(a = cnl_get(nlh, COWFS_A_CONFIG_STORE)))
		return NULL;
	snprintf(store, sizeof(store), "%s", cnl_attr_str(a));
	return store;
}

/* Names of the last volume dump, sorted; -1 if one was there twice. */
static int dumped_names(struct cnl *c, char names[][COWFS_VOLUME_NAME_MAX + 1],
			int max)
{
	struct nlmsghdr *nlh;
	int n = 0, i;

	cnl_for_each_reply(c, nlh) {
		struct nlattr *a = cnl_get(nlh, COWFS_A_VOLUME_NAME);

		if (!a || n == max)
			return -1;
		for (i = 0; i < n; i++)
			if (!strcmp(names[i], cnl_attr_str(a)))
				return -1;
		snprintf(names[n++], COWFS_VOLUME_NAME_MAX + 1, "%s", cnl_attr_str(a));
	}
	return n;
}

/* Remove every volume: tests share the one registry */
static void remove_all_volumes(struct cnl *c)
{
	static char names[512][COWFS_VOLUME_NAME_MAX + 1];
	int i, n;

	if (dump(c, COWFS_CMD_VOLUME_GET))
		return;
	n = dumped_names(c, names, 512);
	for (i = 0; i < n; i++)
		vol_one(c, COWFS_CMD_VOLUME_DEL, names[i]);
}

/* A read-write union of @lower (upper and work beside @mnt) with a volume */
static int mount_vol(const char *mnt, const char *lower, const char *vol)
{
	char upper[PATH_MAX], work[PATH_MAX], spec[256], log[4096];
	struct fsparam p[4];

	snprintf(upper, sizeof(upper), "%s.u", mnt);
	snprintf(work, sizeof(work), "%s.w", mnt);
	snprintf(spec, sizeof(spec), "%s:/data", vol);
	if (mkdir_p(mnt, 0755) || mkdir_p(upper, 0755) || mkdir_p(work, 0755))
		return -EIO;
	p[0] = (struct fsparam){ "lowerdir+", lower };
	p[1] = (struct fsparam){ "upperdir", upper };
	p[2] = (struct fsparam){ "workdir", work };
	p[3] = (struct fsparam){ "volume", spec };
	return fsapi_mount(mnt, p, 4, log, sizeof(log));
}

/* ---- the fixture ------------------------------------------------------------ */

FIXTURE(nla) {
	struct cnl c;
	char base[64];
	char store[PATH_MAX];
	char lower[PATH_MAX];
	char old_store[PATH_MAX];
	unsigned int iters;
};

FIXTURE_SETUP(nla)
{
	const char *seed_env = getenv("COWFS_FUZZ_SEED");
	const char *iters_env = getenv("COWFS_FUZZ_ITERS");
	const char *old;
	unsigned int seed;
	int err;

	REQUIRE_FSTYPE();
	err = cnl_open(&self->c);
	if (err == -ENOENT)
		SKIP(return, "the cowfs netlink family is not registered");
	ASSERT_EQ(0, err);
	seed = seed_env ? strtoul(seed_env, NULL, 0) : (unsigned int)time(NULL);
	self->iters = iters_env ? strtoul(iters_env, NULL, 0) : 3000;
	TH_LOG("seed %u (COWFS_FUZZ_SEED=%u reproduces)", seed, seed);
	srandom(seed);
	old = config_store(&self->c);
	snprintf(self->old_store, sizeof(self->old_store), "%s", old ?: "");
	snprintf(self->base, sizeof(self->base), "/tmp/cowfs-nla-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	ASSERT_EQ(0, chmod(self->base, 0755));
	snprintf(self->store, sizeof(self->store), "%s/store", self->base);
	snprintf(self->lower, sizeof(self->lower), "%s/lower", self->base);
	ASSERT_EQ(0, mkdir_p(self->store, 0755));
	ASSERT_EQ(0, mkdir_p(pathf("%s/data", self->lower), 0755));
	ASSERT_EQ(0, mkdir_p(pathf("%s/src", self->base), 0755));
	ASSERT_EQ(0, mkfile(pathf("%s/file", self->base), "f"));
	ASSERT_EQ(0, config_set(&self->c, self->store)) TH_LOG("%s", self->c.ext_msg);
	remove_all_volumes(&self->c);
}

FIXTURE_TEARDOWN(nla)
{
	if (self->base[0])
		umount_below(self->base);
	if (self->c.family) {
		remove_all_volumes(&self->c);
		/* Back to where it was, if that is still there */
		if (self->old_store[0] && !access(self->old_store, F_OK))
			config_set(&self->c, self->old_store);
	}
	if (self->base[0])
		rm_rf(self->base);
	cnl_close(&self->c);
}

/* ---- one process, a model ------------------------------------------------------ */

#define NPOOL	10
#define NMNT	3

struct vmodel {
	bool exists;
	int type;
	int nlabels;
	int mnt;	/* the mount using it, -1 if none */
};

struct model {
	struct vmodel v[NPOOL];
	bool mounted[NMNT];
	int mvol[NMNT];
	/* Notifications expected, in order: cmd, volume index or -1 (mount) */
	int ntf_cmd[4096], ntf_vol[4096];
	int nntf;
};

static const char *pool_name(int i)
{
	static char name[16];

	snprintf(name, sizeof(name), "nz%d", i);
	return name;
}

static void expect_ntf(struct model *m, int cmd, int vol)
{
	if (m->nntf < 4096) {
		m->ntf_cmd[m->nntf] = cmd;
		m->ntf_vol[m->nntf] = vol;
	}
	m->nntf++;
}

/* Read the notifications that came and match them with the expected ones */
static int check_ntfs(struct __test_metadata *_metadata, struct cnl *ev,
		      struct model *m, int *seen)
{
	static char rx[CNL_BUF];
	struct nlmsghdr *nlh;
	ssize_t n;
	int bad = 0;

	while ((n = recv(ev->fd, rx, sizeof(rx), MSG_DONTWAIT)) > 0) {
		for (nlh = (struct nlmsghdr *)rx; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			struct genlmsghdr *g = NLMSG_DATA(nlh);
			struct nlattr *a;
			int want_cmd, want_vol;

			if (nlh->nlmsg_type != ev->family)
				continue;
			if (*seen >= m->nntf) {
				EXPECT_TRUE(false) TH_LOG("notification %u not caused by us", g->cmd);
				bad++;
				continue;
			}
			want_cmd = m->ntf_cmd[*seen];
			want_vol = m->ntf_vol[*seen];
			(*seen)++;
			EXPECT_EQ(want_cmd, g->cmd) TH_LOG("notification #%d", *seen);
			if (g->cmd != want_cmd) {
				bad++;
				continue;
			}
			if (want_vol >= 0) {
				a = cnl_get(nlh, COWFS_A_VOLUME_NAME);
				EXPECT_STREQ(pool_name(want_vol), a ? cnl_attr_str(a) : "(none)");
			} else {
				EXPECT_NE(NULL, cnl_get(nlh, COWFS_A_MOUNT_ID));
			}
		}
	}
	if (n < 0 && errno != EAGAIN) {
		EXPECT_TRUE(false) TH_LOG("events socket: %s", strerror(errno));
		bad++;
	}
	return bad;
}

/*
 * Random requests of every command, each valid or with one fault, as
 * root: every answer as the model says (errno included), replies with
 * what the model holds, a notification for each change and no other, and
 * in the end the registry is the model.
 */
TEST_F_TIMEOUT(nla, model_every_command, 900)
{
	static struct model m;
	struct cnl ev;
	char mnt[NMNT][PATH_MAX];
	unsigned int it;
	int seen = 0, i, ret;

	for (i = 0; i < NPOOL; i++)
		m.v[i].mnt = -1;
	for (i = 0; i < NMNT; i++)
		snprintf(mnt[i], sizeof(mnt[i]), "%s/m%d", self->base, i);
	ASSERT_EQ(0, cnl_open(&ev));
	ASSERT_EQ(0, cnl_subscribe(&ev));

	for (it = 0; it < self->iters && !_metadata->exit_code; it++) {
		unsigned int op = rnd(100);
		int v = rnd(NPOOL), want;
		struct vmodel *vm = &m.v[v];
		const char *name = pool_name(v);

		if (op < 30) {			/* VOLUME_NEW */
			int type = rnd(3), fault = rnd(4) ? -1 : (int)rnd(6), nl = rnd(4), alt;
			const char *path = NULL;
			uint64_t size = 0;

			if (type == COWFS_VOLUME_TYPE_BIND)
				path = pathf("%s/src", self->base);
			if (type == COWFS_VOLUME_TYPE_TMPFS && rnd(2))
				size = 1 << 20;
			want = vm->exists ? -EEXIST : 0;
			switch (fault) {
			case 0: name = rnd(2) ? "-bad" : "a b"; want = -EINVAL; break;
			case 1: type = COWFS_VOLUME_TYPE_BIND;
				path = pathf("%s/none", self->base); want = -ENOENT; break;
			case 2: type = COWFS_VOLUME_TYPE_BIND;
				path = pathf("%s/file", self->base); want = -ENOTDIR; break;
			case 3: type = COWFS_VOLUME_TYPE_BIND; path = "rel"; want = -EINVAL; break;
			case 4: type = COWFS_VOLUME_TYPE_LOCAL; size = 1 << 20; want = -EINVAL; break;
			case 5: type = COWFS_VOLUME_TYPE_TMPFS; size = 100; path = NULL;
				want = -ERANGE; break;
			}
			/* A bind path is looked at before or after the name: either */
			alt = vm->exists && (fault == 1 || fault == 2) ? -EEXIST : want;
			ret = vol_new(&self->c, name, rnd(4) || type ? type : -1, path, size, nl);
			EXPECT_TRUE(ret == want || ret == alt)
				TH_LOG("#%u new %s type %d fault %d: %d, want %d: %s", it, name,
				       type, fault, ret, want, self->c.ext_msg);
			if (!ret && !want) {
				vm->exists = true;
				vm->type = type;
				vm->nlabels = nl;
				expect_ntf(&m, COWFS_CMD_VOLUME_ADD_NTF, v);
			}
		} else if (op < 50) {		/* VOLUME_DEL */
			bool bad = !rnd(8);

			want = bad ? -EINVAL : !vm->exists ? -ENOENT : vm->mnt >= 0 ? -EBUSY : 0;
			ret = vol_one(&self->c, COWFS_CMD_VOLUME_DEL, bad ? "a/b" : name);
			EXPECT_EQ(want, ret) TH_LOG("#%u del %s: %s", it, name, self->c.ext_msg);
			if (!ret && !want) {
				vm->exists = false;
				expect_ntf(&m, COWFS_CMD_VOLUME_DEL_NTF, v);
			}
		} else if (op < 65) {		/* VOLUME_GET */
			ret = vol_one(&self->c, COWFS_CMD_VOLUME_GET, name);
			EXPECT_EQ(vm->exists ? 0 : -ENOENT, ret) TH_LOG("#%u get %s", it, name);
			if (!ret && vm->exists) {
				struct nlmsghdr *nlh = cnl_reply(&self->c);
				struct nlattr *a = nlh ? cnl_get(nlh, COWFS_A_VOLUME_TYPE) : NULL;

				ASSERT_NE(NULL, a);
				EXPECT_EQ(vm->type, (int)cnl_attr_uint(a));
				EXPECT_EQ(vm->nlabels, cnl_count(nlh, COWFS_A_VOLUME_LABEL));
				EXPECT_EQ(vm->mnt >= 0, cnl_count(nlh, COWFS_A_VOLUME_MOUNT_ID) > 0);
			}
		} else if (op < 73) {		/* VOLUME_GET dump */
			static char names[64][COWFS_VOLUME_NAME_MAX + 1];
			int n, exist = 0;

			ASSERT_EQ(0, dump(&self->c, COWFS_CMD_VOLUME_GET));
			n = dumped_names(&self->c, names, 64);
			for (i = 0; i < NPOOL; i++)
				exist += m.v[i].exists;
			EXPECT_EQ(exist, n) TH_LOG("#%u dump", it);
			for (i = 0; i < n; i++) {
				int k = -1;

				EXPECT_EQ(1, sscanf(names[i], "nz%d", &k));
				EXPECT_TRUE(k >= 0 && k < NPOOL && m.v[k].exists)
					TH_LOG("dumped %s", names[i]);
			}
		} else if (op < 76) {		/* VOLUME_PRUNE */
			struct nlattr *a, *head;
			bool pruned[NPOOL] = {};
			int len;

			cnl_init(&msg, self->c.family, COWFS_CMD_VOLUME_PRUNE, 0);
			ASSERT_EQ(0, cnl_send(&self->c, &msg));
			head = cnl_msg_attrs(cnl_reply(&self->c), &len);
			cnl_for_each_attr(a, head, len) {
				int k = -1;

				if (cnl_attr_type(a) != COWFS_A_VOLUME_PRUNED)
					continue;
				EXPECT_EQ(1, sscanf(cnl_attr_str(a), "nz%d", &k));
				if (k >= 0 && k < NPOOL && !pruned[k]) {
					pruned[k] = true;
					/* notified in the order of the reply */
					expect_ntf(&m, COWFS_CMD_VOLUME_DEL_NTF, k);
				}
			}
			for (i = 0; i < NPOOL; i++) {
				bool want_pruned = m.v[i].exists && m.v[i].mnt < 0 &&
						   m.v[i].type != COWFS_VOLUME_TYPE_BIND;

				EXPECT_EQ(want_pruned, pruned[i]) TH_LOG("#%u prune %s", it,
									  pool_name(i));
				if (pruned[i])
					m.v[i].exists = false;
			}
		} else if (op < 82) {		/* mount a union with a volume */
			int k = rnd(NMNT);

			if (m.mounted[k])
				continue;
			want = !vm->exists ? -ENOENT : 0;
			ret = mount_vol(mnt[k], self->lower, name);
			/* A volume in use by another union: shared, or refused */
			EXPECT_TRUE(ret == want || (vm->mnt >= 0 && ret == -EBUSY))
				TH_LOG("#%u mount with %s: %s", it, name, strerror(-ret));
			if (!ret) {
				m.mounted[k] = true;
				m.mvol[k] = v;
				if (vm->mnt < 0)
					vm->mnt = k;
				expect_ntf(&m, COWFS_CMD_MOUNT_ADD_NTF, -1);
				EXPECT_EQ(0, mkfile(pathf("%s/data/f%u", mnt[k], it), "d"));
			}
		} else if (op < 88) {		/* unmount one */
			int k = rnd(NMNT), j;

			if (!m.mounted[k])
				continue;
			EXPECT_EQ(0, umount2(mnt[k], 0)) TH_LOG("umount: %s", strerror(errno));
			m.mounted[k] = false;
			expect_ntf(&m, COWFS_CMD_MOUNT_DEL_NTF, -1);
			i = m.mvol[k];
			if (m.v[i].mnt == k) {
				m.v[i].mnt = -1;
				for (j = 0; j < NMNT; j++)
					if (m.mounted[j] && m.mvol[j] == i)
						m.v[i].mnt = j;
			}
		} else if (op < 94) {		/* MOUNT_GET: dump, and by id */
			struct nlmsghdr *nlh;
			uint64_t ids[16];
			int n = 0, mine = 0, want_mine = 0;

			ASSERT_EQ(0, dump(&self->c, COWFS_CMD_MOUNT_GET));
			cnl_for_each_reply(&self->c, nlh) {
				struct nlattr *id = cnl_get(nlh, COWFS_A_MOUNT_ID);
				struct nlattr *lo = cnl_get(nlh, COWFS_A_MOUNT_LOWER);

				ASSERT_NE(NULL, id);
				for (i = 0; i < n; i++)
					EXPECT_NE(ids[i], cnl_attr_uint(id)) TH_LOG("mount listed twice");
				if (n < 16)
					ids[n++] = cnl_attr_uint(id);
				mine += lo && !strcmp(cnl_attr_str(lo), self->lower);
			}
			for (i = 0; i < NMNT; i++)
				want_mine += m.mounted[i];
			EXPECT_EQ(want_mine, mine) TH_LOG("#%u mount dump", it);
			for (i = 0; i < n; i++) {
				cnl_init(&msg, self->c.family, COWFS_CMD_MOUNT_GET, 0);
				cnl_put_u64(&msg, COWFS_A_MOUNT_ID, ids[i]);
				EXPECT_EQ(0, cnl_send(&self->c, &msg));
			}
			cnl_init(&msg, self->c.family, COWFS_CMD_MOUNT_GET, 0);
			cnl_put_u64(&msg, COWFS_A_MOUNT_ID, (1ULL << 40) + rnd(1000));
			EXPECT_EQ(-ENOENT, cnl_send(&self->c, &msg));
		} else if (op < 97) {		/* CONFIG_GET */
			const char *s = config_store(&self->c);

			EXPECT_STREQ(self->store, s ?: "(none)");
		} else {			/* CONFIG_SET: refused while in use */
			bool busy = false;

			for (i = 0; i < NMNT; i++)
				busy |= m.mounted[i];
			ret = config_set(&self->c, pathf("%s/none", self->base));
			EXPECT_TRUE(ret == -ENOENT || (busy && ret == -EBUSY))
				TH_LOG("config-set of a missing store: %d %s", ret, self->c.ext_msg);
			EXPECT_STREQ(self->store, config_store(&self->c) ?: "(none)");
		}
		if (it % 64 == 0)
			check_ntfs(_metadata, &ev, &m, &seen);
	}
	for (i = 0; i < NMNT; i++) {
		if (m.mounted[i]) {
			EXPECT_EQ(0, umount2(mnt[i], 0));
			expect_ntf(&m, COWFS_CMD_MOUNT_DEL_NTF, -1);
		}
	}
	usleep(200000);
	check_ntfs(_metadata, &ev, &m, &seen);
	EXPECT_EQ(m.nntf, seen) TH_LOG("notifications: %d expected, %d came", m.nntf, seen);
	cnl_close(&ev);
	/* The registry is the model */
	for (i = 0; i < NPOOL; i++)
		EXPECT_EQ(m.v[i].exists ? 0 : -ENOENT,
			  vol_one(&self->c, COWFS_CMD_VOLUME_GET, pool_name(i)));
}

/* ---- many processes ------------------------------------------------------------------- */

/* Volume worker @w: its own names, its own model; exits 0 if all agreed */
static int volume_worker(int w, time_t end)
{
	bool exists[6] = {};
	struct cnl c;
	char name[32];
	int bad = 0, i, ret;

	srandom(getpid());
	if (cnl_open(&c))
		return 1;
	while (time(NULL) < end && bad < 10) {
		i = rnd(6);
		snprintf(name, sizeof(name), "c%d-%d", w, i);
		switch (rnd(3)) {
		case 0:
			ret = vol_new(&c, name, rnd(2) ? COWFS_VOLUME_TYPE_TMPFS : -1, NULL, 0,
				      rnd(3));
			bad += ret != (exists[i] ? -EEXIST : 0);
			if (!ret)
				exists[i] = true;
			break;
		case 1:
			ret = vol_one(&c, COWFS_CMD_VOLUME_DEL, name);
			bad += ret != (exists[i] ? 0 : -ENOENT);
			if (!ret)
				exists[i] = false;
			break;
		default:
			ret = vol_one(&c, COWFS_CMD_VOLUME_GET, name);
			bad += ret != (exists[i] ? 0 : -ENOENT);
		}
		if (bad && bad < 3)
			fprintf(stderr, "# worker %d: %s: %d (%s)\n", w, name, ret, c.ext_msg);
	}
	/* Leave a known state: even names there, odd ones not */
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "c%d-%d", w, i);
		if (i % 2 == 0 && !exists[i])
			bad += vol_new(&c, name, -1, NULL, 0, 0) != 0;
		if (i % 2 && exists[i])
			bad += vol_one(&c, COWFS_CMD_VOLUME_DEL, name) != 0;
	}
	cnl_close(&c);
	return bad ? 2 : 0;
}

#define NSTABLE	8

/*
 * The volumes of the last dump: each stable volume (there all along)
 * exactly once, every entry named; 1 if some other name came twice
 * (the dump was not marked NLM_F_DUMP_INTR: see docs/reliability.md),
 * -1 if anything else was wrong.
 */
static int check_volume_dump(struct cnl *c)
{
	static char names[512][COWFS_VOLUME_NAME_MAX + 1];
	int stable[NSTABLE] = {}, n = 0, i, k, twice = 0;
	struct nlmsghdr *nlh;

	cnl_for_each_reply(c, nlh) {
		struct nlattr *a = cnl_get(nlh, COWFS_A_VOLUME_NAME);

		if (!a || n == 512)
			return -1;
		if (sscanf(cnl_attr_str(a), "stable-%d", &k) == 1 && k >= 0 && k < NSTABLE)
			stable[k]++;
		for (i = 0; i < n; i++)
			if (!strcmp(names[i], cnl_attr_str(a)) &&
			    !(nlh->nlmsg_flags & NLM_F_DUMP_INTR))
				twice = 1;
		snprintf(names[n++], COWFS_VOLUME_NAME_MAX + 1, "%s", cnl_attr_str(a));
	}
	for (k = 0; k < NSTABLE; k++)
		if (stable[k] != 1)
			return -1;
	return twice;
}

/* Dumps of volumes and mounts: well formed, nothing twice */
static int dumper(time_t end, bool nobody)
{
	struct nlmsghdr *nlh;
	struct cnl c;
	int bad = 0, twice = 0;

	if (nobody && (setgroups(0, NULL) || setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
		       setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID)))
		return 1;
	if (cnl_open(&c))
		return 1;
	while (time(NULL) < end && bad < 10) {
		uint64_t ids[64];
		int n = 0, i, ret;
		const char *what = NULL;

		ret = dump(&c, COWFS_CMD_VOLUME_GET);
		if (ret)
			what = "volume dump failed";
		else if (nobody && c.rlen)
			what = "nobody's volume dump is not empty";
		else if (nobody)
			;	/* reads are scoped: nobody sees no volume */
		else if ((i = check_volume_dump(&c)) < 0)
			what = "a volume without a name, or a stable one missing or twice";
		else
			twice += i;
		if (!what && (ret = dump(&c, COWFS_CMD_MOUNT_GET)))
			what = "mount dump failed";
		if (!what && nobody && c.rlen)
			what = "nobody's mount dump is not empty";
		cnl_for_each_reply(&c, nlh) {
			struct nlattr *id = cnl_get(nlh, COWFS_A_MOUNT_ID);

			if (what)
				break;
			if (!id) {
				what = "a mount without an id";
				break;
			}
			for (i = 0; i < n; i++)
				if (ids[i] == cnl_attr_uint(id))
					what = "a mount twice in one dump";
			if (n < 64)
				ids[n++] = cnl_attr_uint(id);
		}
		if (!what && nobody &&
		    ((ret = vol_new(&c, "nobody", -1, NULL, 0, 0)) != -EPERM ||
		     (ret = vol_one(&c, COWFS_CMD_VOLUME_DEL, "c0-0")) != -EPERM))
			what = "a change by nobody not refused with EPERM";
		if (what && bad++ < 3)
			fprintf(stderr, "# dumper%s: %s (%d %s)\n", nobody ? " (nobody)" : "",
				what, ret, c.ext_msg);
	}
	if (twice)
		fprintf(stderr, "# dumper%s: %d dumps listed a re-created volume twice, not marked NLM_F_DUMP_INTR\n",
			nobody ? " (nobody)" : "", twice);
	cnl_close(&c);
	return bad ? 3 : 0;
}

/* Mount and unmount unions with a volume of their own, all the time */
static int mount_churner(const char *base, const char *lower, time_t end)
{
	char mnt[PATH_MAX];
	struct cnl c;
	int bad = 0, k = 0;

	if (cnl_open(&c))
		return 1;
	snprintf(mnt, sizeof(mnt), "%s/churn", base);
	while (time(NULL) < end && bad < 10) {
		char name[32];
		int ret;

		snprintf(name, sizeof(name), "mc-%d", k++ % 4);
		ret = vol_new(&c, name, k % 2 ? COWFS_VOLUME_TYPE_TMPFS : -1, NULL, 0, 0);
		bad += ret != 0;
		ret = mount_vol(mnt, lower, name);
		if (ret) {
			bad++;
			fprintf(stderr, "# churner: mount with %s: %s\n", name, strerror(-ret));
		} else {
			bad += mkfile(pathf("%s/data/x", mnt), "x") != 0;
			bad += vol_one(&c, COWFS_CMD_VOLUME_DEL, name) != -EBUSY;
			bad += umount2(mnt, 0) != 0;
		}
		bad += vol_one(&c, COWFS_CMD_VOLUME_DEL, name) != 0;
	}
	cnl_close(&c);
	return bad ? 4 : 0;
}

/*
 * One volume, deleted by one process while another attaches it to new
 * unions: a mount that worked has the volume (and its data) until it is
 * unmounted, and a delete never succeeds under a mount.
 */
static int del_racer(time_t end)
{
	struct cnl c;
	int bad = 0, ret;

	if (cnl_open(&c))
		return 1;
	while (time(NULL) < end && bad < 10) {
		ret = vol_one(&c, COWFS_CMD_VOLUME_DEL, "rv");
		bad += ret && ret != -ENOENT && ret != -EBUSY;
		ret = vol_new(&c, "rv", -1, NULL, 0, 0);
		bad += ret && ret != -EEXIST;
	}
	cnl_close(&c);
	return bad ? 5 : 0;
}

static int attach_racer(const char *base, const char *lower, time_t end)
{
	char mnt[PATH_MAX];
	struct cnl c;
	int bad = 0, ret, n = 0;

	if (cnl_open(&c))
		return 1;
	snprintf(mnt, sizeof(mnt), "%s/race", base);
	while (time(NULL) < end && bad < 10) {
		ret = mount_vol(mnt, lower, "rv");
		if (ret) {
			bad += ret != -ENOENT;
			continue;
		}
		n++;
		/* Mounted: the volume is ours until the umount */
		bad += mkfile(pathf("%s/data/r%d", mnt, n), "r") != 0;
		bad += vol_one(&c, COWFS_CMD_VOLUME_GET, "rv") != 0;
		bad += cnl_reply(&c) && !cnl_count(cnl_reply(&c), COWFS_A_VOLUME_MOUNT_ID);
		bad += strcmp(slurp(pathf("%s/data/r%d", mnt, n)), "r") != 0;
		bad += umount2(mnt, 0) != 0;
	}
	fprintf(stderr, "# attach racer: %d mounts\n", n);
	cnl_close(&c);
	return bad ? 6 : 0;
}

/* Every notification parses; ENOBUFS (a full socket) is no error */
static int listener(time_t end)
{
	static char rx[CNL_BUF];
	struct timeval tv = { .tv_sec = 1 };
	struct nlmsghdr *nlh;
	struct cnl c;
	int bad = 0, nev = 0, lost = 0;
	ssize_t n;

	if (cnl_open(&c) || cnl_subscribe(&c))
		return 1;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (time(NULL) < end + 2) {
		n = recv(c.fd, rx, sizeof(rx), 0);
		if (n < 0) {
			lost += errno == ENOBUFS;
			bad += errno != EAGAIN && errno != ENOBUFS;
			continue;
		}
		for (nlh = (struct nlmsghdr *)rx; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			struct genlmsghdr *g = NLMSG_DATA(nlh);

			if (nlh->nlmsg_type != c.family)
				continue;
			nev++;
			switch (g->cmd) {
			case COWFS_CMD_VOLUME_ADD_NTF:
			case COWFS_CMD_VOLUME_DEL_NTF:
				bad += !cnl_get(nlh, COWFS_A_VOLUME_NAME);
				break;
			case COWFS_CMD_MOUNT_ADD_NTF:
			case COWFS_CMD_MOUNT_DEL_NTF:
				bad += !cnl_get(nlh, COWFS_A_MOUNT_ID);
				break;
			default:
				bad++;
			}
		}
	}
	fprintf(stderr, "# listener: %d notifications, %d overruns\n", nev, lost);
	cnl_close(&c);
	return bad || !nev ? 7 : 0;
}

/*
 * Volume workers, dumpers (root and nobody), a mount churner, a
 * delete/attach race and an event listener, all at once for 15 s: every
 * answer is what its process expects, and the registry ends as the
 * workers left it.
 */
TEST_F_TIMEOUT(nla, concurrent_with_mounts, 300)
{
	enum { NW = 3, NPROC = NW + 6 };
	time_t end;
	pid_t pids[NPROC];
	int i, status, rc;

	/* There all along: every dump lists each of them once */
	for (i = 0; i < NSTABLE; i++)
		ASSERT_EQ(0, vol_new(&self->c, pathf("stable-%d", i), i % 2 ?
				     COWFS_VOLUME_TYPE_TMPFS : -1, NULL, 0, 1));
	end = time(NULL) + 15;

	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i])
			continue;
		if (i < NW)
			rc = volume_worker(i, end);
		else if (i == NW)
			rc = dumper(end, false);
		else if (i == NW + 1)
			rc = dumper(end, true);
		else if (i == NW + 2)
			rc = mount_churner(self->base, self->lower, end);
		else if (i == NW + 3)
			rc = del_racer(end);
		else if (i == NW + 4)
			rc = attach_racer(self->base, self->lower, end);
		else
			rc = listener(end);
		_exit(rc);
	}
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("process %d: status 0x%x (1 setup, 2 worker, 3 dumper, 4 churner, "
			       "5/6 racers, 7 listener)", i, status);
	}
	for (i = 0; i < NW; i++) {
		int j;

		for (j = 0; j < 6; j++)
			EXPECT_EQ(j % 2 ? -ENOENT : 0,
				  vol_one(&self->c, COWFS_CMD_VOLUME_GET, pathf("c%d-%d", i, j)));
	}
	for (i = 0; i < 4; i++)
		EXPECT_EQ(-ENOENT, vol_one(&self->c, COWFS_CMD_VOLUME_GET, pathf("mc-%d", i)));
	for (i = 0; i < NSTABLE; i++)
		EXPECT_EQ(0, vol_one(&self->c, COWFS_CMD_VOLUME_GET, pathf("stable-%d", i)));
	EXPECT_FALSE(is_mounted(pathf("%s/churn", self->base)));
	EXPECT_FALSE(is_mounted(pathf("%s/race", self->base)));
}

/* ---- dumps left unread ------------------------------------------------------------------ */

/*
 * Sockets closed with dumps half read or not read at all, with many
 * volumes and mounts to dump: nothing leaks or breaks (the runner's rmmod
 * and dmesg check see the rest), and requests still work afterwards.
 */
TEST_F_TIMEOUT(nla, abandoned_dumps, 300)
{
	static char names[512][COWFS_VOLUME_NAME_MAX + 1];
	char mnt[PATH_MAX], small[256];
	int i, n;

	for (i = 0; i < 60; i++)
		ASSERT_EQ(0, vol_new(&self->c, pathf("ab%02d-%s", i,
						     "padpadpadpadpadpadpadpadpadpadpadpadpad"),
				     -1, NULL, 0, 3));
	for (i = 0; i < 3; i++) {
		snprintf(mnt, sizeof(mnt), "%s/am%d", self->base, i);
		ASSERT_EQ(0, mount_vol(mnt, self->lower, pathf("ab%02d-%s", i,
					"padpadpadpadpadpadpadpadpadpadpadpadpad")));
	}
	for (i = 0; i < 300; i++) {
		struct cnl c;
		int k;

		ASSERT_EQ(0, cnl_open(&c));
		for (k = 0; k < 2; k++) {
			cnl_init(&msg, c.family, k ? COWFS_CMD_MOUNT_GET : COWFS_CMD_VOLUME_GET,
				 NLM_F_DUMP);
			msg.nlh.nlmsg_seq = 1000 + k;
			if (send(c.fd, &msg.nlh, msg.nlh.nlmsg_len, 0) < 0)
				break;
		}
		/* Read nothing, a piece (truncated), or one message */
		if (i % 3 == 1)
			recv(c.fd, small, sizeof(small), MSG_DONTWAIT);
		else if (i % 3 == 2)
			recv(c.fd, small, sizeof(small), MSG_DONTWAIT | MSG_TRUNC);
		cnl_close(&c);
	}
	ASSERT_EQ(0, dump(&self->c, COWFS_CMD_VOLUME_GET));
	n = dumped_names(&self->c, names, 512);
	EXPECT_EQ(60, n);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, umount2(pathf("%s/am%d", self->base, i), 0));
}

TEST_HARNESS_MAIN
