// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz the "cowfs" netlink family: garbled requests (random commands,
 * flags, attribute types and lengths, nested garbage, truncation) and
 * well-formed requests with bad values, as root and as an unprivileged
 * user.  Every request is invalid by construction, so every answer must
 * be an error, and the registry and the configuration must not change.
 * The kernel log is checked for splats by the runner.
 *
 * COWFS_FUZZ_SEED and COWFS_FUZZ_ITERS override the seed (printed) and the
 * number of requests per run.
 */
#include <time.h>

#include "cowfs_util.h"
#include "cowfs_nl.h"
#include "kselftest_harness.h"

static struct cnl_msg msg;

/* Type no operation knows: every request gets one (see nlfuzz_poison) */
#define POISON_TYPE	0x3000

struct fuzz_stats {
	unsigned int sent;
	unsigned int errors;
	unsigned int bad;	/* answers that were not errors */
};

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)random() % n : 0;
}

static void put_random_bytes(struct cnl_msg *m, uint16_t type, int len)
{
	char buf[512];
	int i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(rnd(4) ? 'a' + rnd(26) : rnd(256));
	cnl_put(m, type, buf, len);
}

/* A random attribute, maybe a nest of random attributes */
static void put_random_attr(struct cnl_msg *m, int depth)
{
	uint16_t type = rnd(8) ? rnd(16) : rnd(1 << 14);
	int i, n;

	switch (rnd(6)) {
	case 0:
		if (depth < 3 && m->depth < 7) {
			cnl_nest_start(m, type);
			n = rnd(5);
			for (i = 0; i < n; i++)
				put_random_attr(m, depth + 1);
			cnl_nest_end(m);
			if (rnd(4) == 0)	/* a nest without NLA_F_NESTED */
				m->nest[m->depth]->nla_type &= ~NLA_F_NESTED;
			break;
		}
		/* fall through */
	case 1:
		cnl_put_u32(m, type, random());
		break;
	case 2:
		cnl_put_u64(m, type, ((uint64_t)random() << 32) | random());
		break;
	case 3:
		put_random_bytes(m, type, rnd(3) ? rnd(16) : rnd(512));
		break;
	case 4:
		cnl_put_str(m, type, rnd(2) ? "/" : "fuzz!");
		break;
	default:
		cnl_put(m, type, NULL, 0);
		break;
	}
}

/* An attribute that no operation accepts, so that the request must fail */
static void nlfuzz_poison(struct cnl_msg *m)
{
	cnl_put_u32(m, POISON_TYPE + rnd(0x100), 0);
}

/* A names that can never be a volume's */
static const char *bad_name(void)
{
	static const char *names[] = { "", "-x", ".x", "a/b", "a b", "fz!",
				       "..", "_", "a\tb" };

	return names[rnd(ARRAY_LEN(names))];
}

/* Structural garbage: random command, flags, attributes */
static void gen_garbage(struct cnl *c)
{
	int i, n = rnd(8), poison = rnd(n + 1);
	uint16_t flags = 0;

	if (rnd(3) == 0)
		flags |= NLM_F_DUMP;
	cnl_init(&msg, c->family, rnd(4) ? 1 + rnd(12) : rnd(256), flags);
	((struct genlmsghdr *)NLMSG_DATA(&msg.nlh))->version = rnd(4) ? 1 : rnd(256);
	for (i = 0; i <= n; i++) {
		if (i == poison)
			nlfuzz_poison(&msg);
		if (i < n)
			put_random_attr(&msg, 0);
	}
	/* Sometimes break an attribute's length */
	if (rnd(4) == 0 && msg.nlh.nlmsg_len > NLMSG_HDRLEN + GENL_HDRLEN + 4) {
		struct nlattr *a = (struct nlattr *)(msg.buf + NLMSG_HDRLEN + GENL_HDRLEN);

		a->nla_len = rnd(2) ? rnd(4) : 0xfff0;
	}
}

/* Well-formed requests with values that must be refused */
static void gen_semantic(struct cnl *c)
{
	switch (rnd(9)) {
	case 0:
		cnl_init(&msg, c->family, COWFS_CMD_VOLUME_NEW, 0);
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, bad_name());
		if (rnd(2))
			cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, rnd(4));
		if (rnd(2))
			cnl_put_str(&msg, COWFS_A_VOLUME_PATH, rnd(2) ? "/tmp" : "x");
		if (rnd(2))
			cnl_put_u64(&msg, COWFS_A_VOLUME_SIZE, rnd(1 << 20));
		if (rnd(2))
			cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, rnd(2) ? "k" : NULL,
				   rnd(2) ? "v" : NULL);
		break;
	case 1:
		/* A good name with bad company */
		cnl_init(&msg, c->family, COWFS_CMD_VOLUME_NEW, 0);
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "fz-new");
		switch (rnd(5)) {
		case 0:
			cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, 3 + rnd(100));
			break;
		case 1:
			cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_BIND);
			cnl_put_str(&msg, COWFS_A_VOLUME_PATH,
				    pathf("/nonexistent/%u", rnd(1000)));
			break;
		case 2:
			cnl_put_str(&msg, COWFS_A_VOLUME_PATH, "/tmp");
			break;
		case 3:
			cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION, "k=", "v");
			break;
		default:
			cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_TMPFS);
			cnl_put_kv(&msg, COWFS_A_VOLUME_OPTION,
				   pathf("fz%u", rnd(100)), "1");
			break;
		}
		break;
	case 2:
		cnl_init(&msg, c->family, rnd(2) ? COWFS_CMD_VOLUME_DEL :
			 COWFS_CMD_VOLUME_GET, 0);
		if (rnd(2))
			cnl_put_str(&msg, COWFS_A_VOLUME_NAME, bad_name());
		else
			cnl_put_str(&msg, COWFS_A_VOLUME_NAME,
				    pathf("fz-none-%u", rnd(1000)));
		break;
	case 3:
		cnl_init(&msg, c->family, COWFS_CMD_CONFIG_SET, 0);
		cnl_put_str(&msg, COWFS_A_CONFIG_STORE,
			    rnd(2) ? pathf("/nonexistent/%u", rnd(1000)) :
				     rnd(2) ? "relative" : "/tmp/\x01");
		break;
	case 4:
		cnl_init(&msg, c->family, COWFS_CMD_MOUNT_GET, 0);
		cnl_put_u64(&msg, COWFS_A_MOUNT_ID, rnd(2) ? 0 :
			    (1ULL << 40) + rnd(1000));
		break;
	case 5:
		/* No-attribute requests with attributes */
		cnl_init(&msg, c->family, rnd(2) ? COWFS_CMD_VOLUME_PRUNE :
			 COWFS_CMD_CONFIG_GET, 0);
		put_random_attr(&msg, 0);
		break;
	case 6:
		cnl_init(&msg, c->family, rnd(2) ? COWFS_CMD_VOLUME_GET :
			 COWFS_CMD_MOUNT_GET, NLM_F_DUMP);
		put_random_attr(&msg, 0);
		break;
	case 7:
		/* Attributes of the wrong set */
		cnl_init(&msg, c->family, COWFS_CMD_VOLUME_DEL, 0);
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "fz-local");
		cnl_put_u64(&msg, COWFS_A_VOLUME_CREATED + rnd(4), 1);
		break;
	default:
		/* A good request cut short: the poison comes first */
		cnl_init(&msg, c->family, COWFS_CMD_VOLUME_DEL, 0);
		nlfuzz_poison(&msg);
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "fz-local");
		msg.nlh.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + 8 +
			rnd(msg.nlh.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN - 8);
		break;
	}
}

static void fuzz(struct cnl *c, unsigned int iters, struct fuzz_stats *st)
{
	time_t end = time(NULL) + 120;
	unsigned int i;
	int err;

	for (i = 0; i < iters && time(NULL) < end; i++) {
		if (rnd(8) == 0) {
			/* No room for the genetlink header */
			cnl_init(&msg, c->family, rnd(256), 0);
			msg.nlh.nlmsg_len = NLMSG_HDRLEN + rnd(GENL_HDRLEN);
		} else if (rnd(2)) {
			gen_garbage(c);
		} else {
			gen_semantic(c);
		}
		msg.nlh.nlmsg_seq = ++c->seq;
		err = cnl_send_raw(c, &msg.nlh, msg.nlh.nlmsg_len,
				   msg.nlh.nlmsg_seq);
		st->sent++;
		if (err < 0) {
			st->errors++;
		} else {
			struct genlmsghdr *g = NLMSG_DATA(&msg.nlh);

			if (st->bad++ < 10)
				fprintf(stderr, "# request %u (cmd %u, %u bytes) did not fail\n",
					i, g->cmd, msg.nlh.nlmsg_len);
		}
	}
}

/* The registry and the configuration, as one string */
static char *snapshot(struct cnl *c)
{
	struct nlmsghdr *nlh;
	size_t size = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &size);

	cnl_init(&msg, c->family, COWFS_CMD_CONFIG_GET, 0);
	if (!cnl_send(c, &msg))
		fprintf(f, "store=%s\n", cnl_attr_str(cnl_get(cnl_reply(c),
							     COWFS_A_CONFIG_STORE)));
	cnl_init(&msg, c->family, COWFS_CMD_VOLUME_GET, NLM_F_DUMP);
	if (!cnl_send(c, &msg)) {
		cnl_for_each_reply(c, nlh) {
			struct nlattr *a, *head;
			int len;

			head = cnl_msg_attrs(nlh, &len);
			cnl_for_each_attr(a, head, len) {
				/* The raw attributes: any change shows */
				fprintf(f, "%d:", cnl_attr_type(a));
				fwrite(cnl_attr_data(a), 1, cnl_attr_len(a), f);
				fputc(' ', f);
			}
			fputc('\n', f);
		}
	}
	fclose(f);
	return buf;
}

FIXTURE(fuzz) {
	struct cnl c;
	char base[64];
	unsigned int iters;
	char *before;
};

FIXTURE_SETUP(fuzz)
{
	const char *seed_env = getenv("COWFS_FUZZ_SEED");
	const char *iters_env = getenv("COWFS_FUZZ_ITERS");
	unsigned int seed;
	int err;

	err = cnl_open(&self->c);
	if (err == -ENOENT)
		SKIP(return, "the cowfs netlink family is not registered");
	ASSERT_EQ(0, err);
	seed = seed_env ? strtoul(seed_env, NULL, 0) : (unsigned int)time(NULL);
	self->iters = iters_env ? strtoul(iters_env, NULL, 0) : 4000;
	TH_LOG("seed %u (COWFS_FUZZ_SEED=%u reproduces), %u requests",
	       seed, seed, self->iters);
	srandom(seed);

	snprintf(self->base, sizeof(self->base), "/tmp/cowfs-fuzz-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	ASSERT_EQ(0, chmod(self->base, 0755));
	ASSERT_EQ(0, mkdir(pathf("%s/store", self->base), 0755));
	ASSERT_EQ(0, mkdir(pathf("%s/src", self->base), 0755));
	cnl_init(&msg, self->c.family, COWFS_CMD_CONFIG_SET, 0);
	cnl_put_str(&msg, COWFS_A_CONFIG_STORE, pathf("%s/store", self->base));
	ASSERT_EQ(0, cnl_send(&self->c, &msg));

	/* Something to lose */
	cnl_init(&msg, self->c.family, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "fz-local");
	cnl_put_kv(&msg, COWFS_A_VOLUME_LABEL, "k", "v");
	ASSERT_EQ(0, cnl_send(&self->c, &msg));
	cnl_init(&msg, self->c.family, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "fz-bind");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_BIND);
	cnl_put_str(&msg, COWFS_A_VOLUME_PATH, pathf("%s/src", self->base));
	ASSERT_EQ(0, cnl_send(&self->c, &msg));
	cnl_init(&msg, self->c.family, COWFS_CMD_VOLUME_NEW, 0);
	cnl_put_str(&msg, COWFS_A_VOLUME_NAME, "fz-tmpfs");
	cnl_put_u32(&msg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_TMPFS);
	ASSERT_EQ(0, cnl_send(&self->c, &msg));
	self->before = snapshot(&self->c);
}

FIXTURE_TEARDOWN(fuzz)
{
	static const char *names[] = { "fz-local", "fz-bind", "fz-tmpfs" };
	unsigned int i;

	for (i = 0; self->c.family && i < ARRAY_LEN(names); i++) {
		cnl_init(&msg, self->c.family, COWFS_CMD_VOLUME_DEL, 0);
		cnl_put_str(&msg, COWFS_A_VOLUME_NAME, names[i]);
		cnl_send(&self->c, &msg);
	}
	if (self->base[0])
		rm_rf(self->base);
	free(self->before);
	cnl_close(&self->c);
}

TEST_F_TIMEOUT(fuzz, as_root, 300)
{
	struct fuzz_stats st = {};
	char *after;

	fuzz(&self->c, self->iters, &st);
	TH_LOG("%u requests, %u errors, %u not refused", st.sent, st.errors, st.bad);
	EXPECT_EQ(0, st.bad);
	EXPECT_EQ(st.sent, st.errors);
	after = snapshot(&self->c);
	EXPECT_STREQ(self->before, after);
	free(after);
	EXPECT_EQ(0, access(pathf("%s/store/fz-local/_data", self->base), F_OK));
}

static int fuzz_nobody(const void *arg)
{
	unsigned int iters = *(const unsigned int *)arg;
	struct fuzz_stats st = {};
	struct cnl c;

	if (cnl_open(&c))
		return 1;
	fuzz(&c, iters, &st);
	cnl_close(&c);
	fprintf(stderr, "# as nobody: %u requests, %u errors, %u not refused\n",
		st.sent, st.errors, st.bad);
	return st.bad || st.sent != st.errors ? 2 : 0;
}

TEST_F_TIMEOUT(fuzz, as_user, 300)
{
	unsigned int iters = self->iters / 2;
	char *after;

	EXPECT_EQ(0, run_as_nobody(fuzz_nobody, &iters));
	after = snapshot(&self->c);
	EXPECT_STREQ(self->before, after);
	free(after);
}

TEST_HARNESS_MAIN
