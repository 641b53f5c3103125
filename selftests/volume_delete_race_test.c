// SPDX-License-Identifier: GPL-2.0
/*
 * Deleting a volume never leaves the volume's directory (issue 12): a
 * process with its cwd deep in a local volume renames a directory of the
 * volume out of it, into a directory of the host, while `cowctl volume
 * rm` deletes the volume's tree.  The tree walk used to climb back up by
 * each directory's current parent, so it followed the moved directory
 * into the host directory and deleted everything there too.
 *
 * The volume is made with cowctl, in a volume store of the test's own.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#define NFILES		6000	/* in the deepest directory: the walk's time */
#define NVICTIMS	50
#define ROUNDS		3

FIXTURE(vdr) {
	char base[64];
	char cowctl[PATH_MAX];
	char old_store[PATH_MAX];
};

static int run(const char *fmt, ...)
{
	char cmd[PATH_MAX * 3];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

FIXTURE_SETUP(vdr)
{
	const char *repo = getenv("COWFS_REPO");
	char cmd[PATH_MAX + 64];
	FILE *f;

	if (getuid() != 0)
		SKIP(return, "must run as root");
	if (!fs_registered("cowfs"))
		SKIP(return, "the cowfs module is not loaded");
	snprintf(self->cowctl, sizeof(self->cowctl), "%s/tools/cowctl/cowctl",
		 repo ?: "..");
	if (access(self->cowctl, X_OK))
		SKIP(return, "%.200s is not built (make cowctl)", self->cowctl);

	strcpy(self->base, "/tmp/vdr.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	snprintf(cmd, sizeof(cmd), "%s config get | sed -n 's/^store: //p'",
		 self->cowctl);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	if (!fgets(self->old_store, sizeof(self->old_store), f))
		self->old_store[0] = '\0';
	self->old_store[strcspn(self->old_store, "\n")] = '\0';
	pclose(f);
	ASSERT_EQ(0, mkdir_p(pathf("%s/store", self->base), 0755));
	ASSERT_EQ(0, run("%s config set --store %s/store >/dev/null",
			 self->cowctl, self->base));
}

FIXTURE_TEARDOWN(vdr)
{
	if (!self->base[0])
		return;
	run("%s volume rm -f racevol >/dev/null 2>&1", self->cowctl);
	if (self->old_store[0])
		run("%s config set --store %s >/dev/null 2>&1", self->cowctl,
		    self->old_store);
	rm_rf(self->base);
}

/* Files in the host directory that the walk must never touch. */
static int count_victims(const char *victim)
{
	int i, n = 0;

	for (i = 0; i < NVICTIMS; i++)
		n += !access(pathf("%s/v%02d", victim, i), F_OK);
	return n;
}

/*
 * The attacker: cwd in A/B/C of the volume; once the walk starts to empty
 * C (its size drops: tmpfs counts entries), rename B (the cwd's parent)
 * into the host directory.  Exits 0 if the rename was made in time.
 */
static int attack(const char *c_dir, const char *victim)
{
	struct stat st0, st;
	int i;

	if (chdir(c_dir) || stat(".", &st0))
		return 2;
	for (i = 0; i < 20000000; i++) {
		if (stat(".", &st))
			return 3;	/* C already gone: too late */
		if (st.st_size < st0.st_size)
			break;
	}
	/* ".." itself cannot be renamed: name B from its parent A */
	if (rename("../../B", pathf("%s/B", victim)))
		return 4;
	return 0;
}

/* Minutes on a KASAN kernel under TCG: 18,000 files made and deleted */
TEST_F_TIMEOUT(vdr, rename_out_during_delete, 900)
{
	char store[128], victim[128], data[192], c_dir[256];
	int round, i, in_time = 0;

	/* pathf() buffers rotate: keep these in buffers of their own */
	snprintf(store, sizeof(store), "%s/store", self->base);
	snprintf(victim, sizeof(victim), "%s/victim", self->base);
	snprintf(data, sizeof(data), "%s/racevol/_data", store);
	for (round = 0; round < ROUNDS; round++) {
		int status;
		pid_t pid;

		rm_rf(victim);
		ASSERT_EQ(0, mkdir_p(victim, 0755));
		for (i = 0; i < NVICTIMS; i++)
			ASSERT_EQ(0, mkfile(pathf("%s/v%02d", victim, i), "host\n"));
		ASSERT_EQ(0, run("%s volume create racevol >/dev/null",
				 self->cowctl));
		snprintf(c_dir, sizeof(c_dir), "%s/A/B/C", data);
		ASSERT_EQ(0, mkdir_p(c_dir, 0755));
		ASSERT_EQ(0, mkfile(pathf("%s/A/a", data), "a\n"));
		ASSERT_EQ(0, mkfile(pathf("%s/A/B/b", data), "b\n"));
		for (i = 0; i < NFILES; i++)
			ASSERT_EQ(0, mkfile(pathf("%s/f%05d", c_dir, i), ""));

		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(attack(c_dir, victim));
		usleep(100 * 1000);
		ASSERT_EQ(0, run("%s volume rm racevol >/dev/null", self->cowctl));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		TH_LOG("round %d: attacker: %s", round,
		       WEXITSTATUS(status) ? pathf("too late (%d)", WEXITSTATUS(status)) :
		       "renamed B out in time");
		in_time += !WEXITSTATUS(status);

		/* The host directory and its files are all still there */
		EXPECT_EQ(NVICTIMS, count_victims(victim));
		/* The volume is gone from the store */
		EXPECT_EQ(-ENOENT, stat_err(pathf("%s/racevol", store)));
		if (count_victims(victim) != NVICTIMS)
			break;
	}
	/* A run where the rename always came too late proves nothing */
	EXPECT_LT(0, in_time);
}

TEST_HARNESS_MAIN
