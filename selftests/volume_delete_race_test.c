// SPDX-License-Identifier: GPL-2.0
/*
 * Deleting a volume never leaves the volume's directory (issue 12): a
 * process with its cwd deep in a local volume renames a directory of the
 * volume out of it, into a directory of the host, while `cowctl volume
 * rm` deletes the volume's tree.  The tree walk used to climb back up by
 * each directory's current parent, so it followed the moved directory
 * into the host directory and deleted everything there too.
 *
 * And it deletes no more than its caller could (issue 12): it runs with
 * the caller's credentials, not the kernel's.
 *
 * The volume is made with cowctl, in a volume store of the test's own.
 */
#include <sys/prctl.h>
#include <linux/capability.h>

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
	run("%s volume rm -f credvol >/dev/null 2>&1", self->cowctl);
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

/* Names in @dir, but for "." and ".." */
static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/*
 * Run @cmd as root without the capabilities that override file
 * permissions: what a container manager confined to CAP_SYS_ADMIN and
 * CAP_NET_ADMIN (and not CAP_DAC_*, CAP_FOWNER) has.  Its exit status.
 */
static int run_without_dac(const char *cmd)
{
	static const int drop[] = {
		CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
	};
	int status;
	unsigned int i;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		/* Not in the bounding set: not in any program run from here */
		for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
			if (prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0))
				_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A caller without CAP_DAC_OVERRIDE removes a volume holding a directory
 * of another user's that it may not read: the volume is removed (its
 * name is free), the directory it could not have deleted itself stays in
 * the store's trash, cowctl says so, and loading the store again as full
 * root finishes the job.  Deleting with the kernel's credentials, as
 * cowfs did, removed it all.
 */
TEST_F(vdr, delete_with_the_callers_credentials)
{
	char store[128], data[192], err[PATH_MAX], *out;

	snprintf(store, sizeof(store), "%s/store", self->base);
	snprintf(data, sizeof(data), "%s/credvol/_data", store);
	snprintf(err, sizeof(err), "%s/rm.err", self->base);
	ASSERT_EQ(0, run("%s volume create credvol >/dev/null", self->cowctl));
	ASSERT_EQ(0, mkfile(pathf("%s/public", data), "p\n"));
	ASSERT_EQ(0, mkdir_p(pathf("%s/private", data), 0700));
	ASSERT_EQ(0, mkfile(pathf("%s/private/secret", data), "s\n"));
	ASSERT_EQ(0, chown(pathf("%s/private", data), 1000, 1000));

	ASSERT_EQ(0, run_without_dac(pathf("%s volume rm credvol 2>%s >/dev/null",
					   self->cowctl, err)));
	/* Gone from the registry and from the store's namespace */
	EXPECT_NE(0, run("%s volume inspect credvol >/dev/null 2>&1",
			 self->cowctl));
	EXPECT_EQ(-ENOENT, stat_err(pathf("%s/credvol", store)));
	/* cowctl warned that data was left */
	out = (char *)slurp(err);
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "warning: volume credvol:"));
	EXPECT_NE(NULL, strstr(out, ".trash"));
	TH_LOG("cowctl said: %s", out);
	/* What the caller could not delete is in the trash, nothing else */
	EXPECT_EQ(1, count_entries(pathf("%s/.trash", store)));
	EXPECT_EQ(0, run("test -f %s/.trash/credvol*/_data/private/secret",
			 store));
	EXPECT_NE(0, run("test -e %s/.trash/credvol*/_data/public", store));

	/* Loading the store again (as full root) empties the trash */
	ASSERT_EQ(0, run("%s config set --store %s >/dev/null", self->cowctl,
			 store));
	EXPECT_EQ(0, count_entries(pathf("%s/.trash", store)));
}

TEST_HARNESS_MAIN
