# SPDX-License-Identifier: GPL-2.0
#
# cowfs: build, check and test.
#
#   make              build the module, cowctl and the selftests
#   make check        everything CI runs: deps, ksrc, build, checkpatch,
#                     check-wrappers, W=1, sparse and the selftests in a VM
#   make test         run the selftests in a VM (T='lookup_test ...' to pick)
#   make demo         a narrated tour of a 3-layer union, in a VM
#   make shell        an interactive root shell in the VM, module loaded
#   make help         all targets
#
# The module is built against Debian's 6.12 headers for the newest
# /boot/vmlinuz-6.12*-amd64, the kernel scripts/vm boots.  Override with
# KVER=... or KDIR=....

ifeq ($(origin KVER),undefined)
KVER := $(shell find /boot -maxdepth 1 -name 'vmlinuz-6.12*-amd64' 2>/dev/null | \
	  sed 's|.*/vmlinuz-||' | sort -V | tail -n1)
endif
KDIR ?= /lib/modules/$(KVER)/build

# checkpatch runs on every kernel source and UAPI header.  No --ignore is
# needed so far: the out-of-tree specific checks (FILE_PATH_CHANGES,
# MAINTAINERS) do not fire with -f --no-tree.  Add types here, with a
# reason, only for checks that cannot apply to an out-of-tree module.
CHECKPATCH_IGNORE ?=
CHECKPATCH_FILES = $(sort $(filter-out %.mod.c,$(wildcard kernel/*.[ch] include/uapi/linux/*.h)))

# Arguments for the VM and for the selftest runner (make test T=lookup_test).
VM_ARGS ?=
T ?=

phase = @printf '\n==> %s\n' "$(1)"

.PHONY: all help deps ksrc module cowctl selftests clean distclean \
	checkpatch check-wrappers w1 sparse test check demo shell kdir bench \
	bench-quick bench-first-write bench-hotpath bench-rootless bench-metacopy \
	bench-composefs bench-partial

all: module cowctl selftests

help:
	@sed -n '3,15s/^# \{0,1\}//p' Makefile
	@echo 'targets: all module cowctl selftests deps ksrc checkpatch check-wrappers'
	@echo '         w1 sparse'
	@echo '         test check demo shell clean distclean stress bench bench-quick'
	@echo '         bench-first-write bench-hotpath (HOTPATH_BASE=old.json)'
	@echo '         bench-rootless bench-metacopy (METACOPY_ARGS=...)'
	@echo '         bench-composefs (COMPOSEFS_ARGS=...)'
	@echo '         bench-partial (PARTIAL_ARGS=...)'
	@echo '         fuzz-images (COUNT=1000 START=1 FSTYPE=cowfs|overlay)'
	@echo '         install uninstall dkms-install dkms-uninstall dkms-check'
	@echo '         debug-kernel debug-module check-debug (docs/debug-kernel.md)'

deps:
	$(call phase,deps: scripts/deps.sh)
	@scripts/deps.sh

ksrc:
	$(call phase,ksrc: kernel source bits into .ksrc/)
	@scripts/ksrc.sh

kdir:
	@test -n "$(KVER)" || { echo "no /boot/vmlinuz-6.12*-amd64: run 'make deps'" >&2; exit 1; }
	@test -f "$(KDIR)/Makefile" || { echo "no kernel headers at $(KDIR): run 'make deps'" >&2; exit 1; }

module: kdir
	$(call phase,module: kernel/cowfs.ko for $(KVER))
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

cowctl:
	$(call phase,cowctl: tools/cowctl)
	$(MAKE) -C tools/cowctl

selftests: ksrc
	$(call phase,selftests: selftests/)
	$(MAKE) -C selftests

checkpatch: ksrc
	$(call phase,checkpatch --strict: $(words $(CHECKPATCH_FILES)) files)
	@.ksrc/scripts/checkpatch.pl --strict --no-tree --quiet --color=never \
		$(if $(CHECKPATCH_IGNORE),--ignore $(CHECKPATCH_IGNORE)) \
		-f $(CHECKPATCH_FILES) && echo "checkpatch: clean"

# Changes to real layers only through the cowfs_do_*() wrappers of
# kernel/cowfs.h, keyed on the layer (scripts/check-wrappers.sh).
check-wrappers:
	$(call phase,check-wrappers: no VFS modification helper outside kernel/cowfs.h)
	@scripts/check-wrappers.sh

w1: kdir
	$(call phase,w1: module build with W=1 (no warnings allowed))
	@MAKE="$(MAKE)" scripts/kbuild-check.sh w1 $(KDIR)

sparse: kdir
	$(call phase,sparse: module build with C=2 CHECK=sparse)
	@MAKE="$(MAKE)" scripts/kbuild-check.sh sparse $(KDIR)

# The whole suite takes about 20 minutes in an idle guest; the guest's
# limit leaves room for a busy machine, within CI's 90 minutes.
TEST_VM_TIMEOUT ?= 3000
test:
	$(call phase,test: selftests in a VM)
	scripts/vm --timeout $(TEST_VM_TIMEOUT) $(VM_ARGS) -- scripts/run-tests.sh $(T)

check:
	@MAKE="$(MAKE)" scripts/check.sh

demo: deps ksrc all
	$(call phase,demo: a 3-layer union in a VM)
	scripts/vm $(VM_ARGS) -- scripts/demo.sh

shell:
	scripts/vm $(VM_ARGS) --shell

# The long stress run in a VM (docs/reliability.md): DURATION seconds of
# random operations by PROCS processes, then the checks; make check runs
# a 120 s, 8 process one as selftests/stress_test.sh.
DURATION ?= 600
PROCS ?= 8
.PHONY: stress
stress:
	$(call phase,stress: $(PROCS) processes for $(DURATION) s in a VM)
	scripts/vm $(VM_ARGS) --timeout $$(($(DURATION) * 2 + 1800)) -- \
		env STRESS_DURATION=$(DURATION) STRESS_PROCS=$(PROCS) \
		scripts/run-tests.sh -t $$(($(DURATION) * 2 + 1200)) stress_test.sh

# The crafted-image fuzzer (selftests/image_fuzz.py, docs/reliability.md)
# over COUNT seeds from START in a VM: hostile layers mounted, walked and
# changed; a seed that kills or hangs the guest is reported and a fresh
# guest goes on after it (scripts/fuzz-images.sh; logs in
# build/fuzz-images/).  FSTYPE=overlay runs the reference.  make check
# runs 54 seeds of it (selftests/image_fuzz_test.sh).
COUNT ?= 1000
START ?= 1
FSTYPE ?= cowfs
.PHONY: fuzz-images
fuzz-images:
	$(call phase,fuzz-images: $(COUNT) seeds from $(START) on $(FSTYPE) in a VM)
	VM_ARGS='$(VM_ARGS)' scripts/fuzz-images.sh $(START) $(COUNT) $(FSTYPE)

# The debug kernel (docs/debug-kernel.md): KASAN, lockdep, KFENCE,
# DEBUG_OBJECTS, hung task detection, everything the VM needs built in;
# built once per machine into /var/cache/cowfs (scripts/debug-kernel.sh).
# debug-module: cowfs.ko for it, built from a copy of the sources in
# build/debug/ (kernel/cowfs.ko stays Debian's).  check-debug: every
# selftest (T=... to pick) in a VM on it; logs in build/debug/.
DEBUG_MEM ?= 3072
DEBUG_TIMEOUT ?= 14400
DEBUG_TEST_TIMEOUT ?= 3600
.PHONY: debug-kernel debug-module check-debug
debug-kernel:
	$(call phase,debug-kernel: scripts/debug-kernel.sh)
	@scripts/debug-kernel.sh

debug-module: debug-kernel
	$(call phase,debug-module: build/debug/kernel/cowfs.ko for the debug kernel)
	@mkdir -p build/debug && for f in $(DKMS_FILES); do \
		install -D -p -m 0644 $$f build/debug/$$f || exit 1; done
	$(MAKE) -C "$$(scripts/debug-kernel.sh --print-dir)/build" M=$(CURDIR)/build/debug modules

check-debug: debug-module cowctl selftests
	$(call phase,check-debug: selftests in a VM on the debug kernel)
	@rm -f build/debug/check-debug.rc; \
	{ scripts/vm --debug --module build/debug/kernel/cowfs.ko --mem $(DEBUG_MEM) \
		--timeout $(DEBUG_TIMEOUT) $(VM_ARGS) -- \
		scripts/run-tests.sh -t $(DEBUG_TEST_TIMEOUT) $(T); \
	  echo $$? >build/debug/check-debug.rc; } 2>&1 | tee build/debug/check-debug.log; \
	rc=$$(cat build/debug/check-debug.rc); \
	rm -rf build/debug/test-logs; cp -r build/test-logs build/debug/test-logs 2>/dev/null; \
	echo "check-debug: console log in build/debug/check-debug.log, test logs and dmesg in build/debug/test-logs/"; \
	exit $$rc

# Storage driver benchmark in the VM: scripts/bench/run.sh (BENCH_ARGS=
# '--drivers cowfs,zfs' to pick).  bench-quick: bench-results/quick/.
# bench-first-write: cowfs against overlay2, first write (copy-up) only,
# ext4 and xfs uppers, wall and instruction clocks (bench-results/first-write/).
# bench and bench-quick also time the hot paths (bench-hotpath, below),
# metacopy (bench-metacopy, below), the composefs-style image
# (bench-composefs, below) and copyup=partial (bench-partial, below).
bench bench-quick: deps module cowctl
	$(call phase,$@: storage drivers in a VM)
	scripts/bench/run.sh $(if $(filter bench-quick,$@),--quick,--full) $(BENCH_ARGS)

bench-first-write: deps module cowctl
	$(call phase,$@: cowfs and overlay2 first write in a VM)
	scripts/bench/run.sh --full --first-write

# bench-rootless: a rootless engine's containers (uid 1000 in a user
# namespace) on cowfs and overlayfs mounted with userxattr and on
# fuse-overlayfs, wall and instruction clocks (bench-results/rootless/).
bench-rootless: deps module cowctl
	$(call phase,$@: rootless containers in a VM)
	scripts/bench/run.sh --full --rootless

# bench-hotpath: lookups, readdir, reads and opens of cowfs, overlayfs and
# the layer used directly, by the instruction clock, at 1 to 128 layers
# (scripts/bench/hotpath.py, issue 14; bench-results/hotpath/).
# HOTPATH_BASE=an earlier hotpath_icount.json: compare cowfs with it.
HOTPATH_BASE ?=
bench-hotpath: deps module
	$(call phase,$@: hot paths of cowfs against overlayfs and direct in a VM)
	scripts/bench/run.sh --full --hotpath $(if $(HOTPATH_BASE),--hotpath-base $(HOTPATH_BASE))

# bench-metacopy: chown -R of a 10,000-file image in a union, first writes
# after it and the upper layer's space, on overlayfs and cowfs with
# metacopy=off and =on, wall and instruction clocks (scripts/bench/
# metacopy.py, issue 15; bench-results/metacopy/, and its section of
# docs/benchmarks.md).  METACOPY_ARGS: more arguments for metacopy.py,
# e.g. '--files 1000 --rounds 2'.
METACOPY_ARGS ?=
bench-metacopy: deps module
	$(call phase,$@: metacopy of overlayfs and cowfs in a VM)
	scripts/bench/run.sh --full --metacopy $(if $(METACOPY_ARGS),--metacopy-args '$(METACOPY_ARGS)')

# bench-composefs: a composefs-style image ('cowctl composefs build' of a
# 5,000-file tree) mounted with lowerdir=META::OBJECTS,metacopy=on,
# verity=require, and the same tree as a plain lower layer, on overlayfs
# and cowfs: mount, cold lstat of every entry, cold read of every file;
# wall and instruction clocks (scripts/bench/composefs.py;
# bench-results/composefs/, and its section of docs/benchmarks.md).
# COMPOSEFS_ARGS: more arguments for composefs.py, e.g. '--rounds 4'.
COMPOSEFS_ARGS ?=
bench-composefs: deps module cowctl
	$(call phase,$@: composefs-style image on overlayfs and cowfs in a VM)
	scripts/bench/run.sh --full --composefs $(if $(COMPOSEFS_ARGS),--composefs-args '$(COMPOSEFS_ARGS)')

# bench-partial: copyup=partial (issue 16): the first 4 KiB write into
# 64 MiB and 1 GiB lower files, fio randwrite over the 1 GiB one, its
# sequential read after a few writes, and the upper layer's space, on
# cowfs copyup=partial and =full, overlayfs, and the btrfs, devicemapper
# and zfs drivers; wall and instruction clocks (scripts/bench/partial.py;
# bench-results/partial/, and its section of docs/benchmarks.md).
# PARTIAL_ARGS: more arguments for partial.py, e.g. '--rounds 1' or
# '--drivers btrfs'.
PARTIAL_ARGS ?=
bench-partial: deps module cowctl
	$(call phase,$@: copyup=partial against full copy-up and snapshots in a VM)
	scripts/bench/run.sh --full --partial $(if $(PARTIAL_ARGS),--partial-args '$(PARTIAL_ARGS)')

# A real machine (as root).  'make install': cowctl into $(PREFIX)/sbin
# with cowctl(8), cowfs(5) and the bash completion, and the default volume
# store.  'make dkms-install': the module's sources into /usr/src, then
# dkms add, build and install for the running kernel (DKMS_KVER=... for
# another).  'make dkms-check' (make check, CI): dkms build for $(KVER)
# in a private tree under build/dkms; nothing is installed.
PREFIX ?= /usr/local
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)
DKMS_KVER ?= $(shell uname -r)
DKMS_FILES = Kbuild dkms.conf kernel/Kbuild \
	$(filter-out %.mod.c,$(wildcard kernel/*.[ch])) \
	$(wildcard include/uapi/linux/*.h)
DKMS_CHECK = $(CURDIR)/build/dkms
dkms_copy = rm -rf $(1) && for f in $(DKMS_FILES); do \
	install -D -m 0644 $$f $(1)/$$f || exit 1; done
.PHONY: install uninstall dkms-install dkms-uninstall dkms-check

install: cowctl
	$(call phase,install: cowctl and the man pages into $(DESTDIR)$(PREFIX))
	$(MAKE) -C tools/cowctl install PREFIX=$(PREFIX)
	install -D -m 0644 man/cowfs.5 $(DESTDIR)$(PREFIX)/share/man/man5/cowfs.5
	install -d -m 0701 $(DESTDIR)/var/lib/cowfs/volumes

uninstall:
	$(MAKE) -C tools/cowctl uninstall PREFIX=$(PREFIX)
	rm -f $(DESTDIR)$(PREFIX)/share/man/man5/cowfs.5

dkms-install:
	$(call phase,dkms-install: cowfs $(DKMS_VERSION) for $(DKMS_KVER))
	@command -v dkms >/dev/null || { echo "dkms is not installed: apt-get install dkms" >&2; exit 1; }
	@test -f /lib/modules/$(DKMS_KVER)/build/Makefile || { echo "no kernel headers for $(DKMS_KVER): apt-get install linux-headers-$(DKMS_KVER)" >&2; exit 1; }
	if dkms status -m cowfs -v $(DKMS_VERSION) | grep -q .; then \
		dkms remove -m cowfs -v $(DKMS_VERSION) --all; fi
	$(call dkms_copy,/usr/src/cowfs-$(DKMS_VERSION))
	dkms add -m cowfs -v $(DKMS_VERSION)
	dkms build -m cowfs -v $(DKMS_VERSION) -k $(DKMS_KVER)
	dkms install -m cowfs -v $(DKMS_VERSION) -k $(DKMS_KVER)
	@echo "cowfs $(DKMS_VERSION) is installed for $(DKMS_KVER): load it with 'modprobe cowfs'"

dkms-uninstall:
	if dkms status -m cowfs -v $(DKMS_VERSION) | grep -q .; then \
		dkms remove -m cowfs -v $(DKMS_VERSION) --all; fi
	rm -rf /usr/src/cowfs-$(DKMS_VERSION)

dkms-check: kdir
	$(call phase,dkms-check: dkms build of cowfs $(DKMS_VERSION) for $(KVER))
	@$(call dkms_copy,$(DKMS_CHECK)/src/cowfs-$(DKMS_VERSION))
	@rm -rf $(DKMS_CHECK)/tree && mkdir -p $(DKMS_CHECK)/tree
	dkms add --sourcetree $(DKMS_CHECK)/src --dkmstree $(DKMS_CHECK)/tree \
		-m cowfs -v $(DKMS_VERSION)
	dkms build --sourcetree $(DKMS_CHECK)/src --dkmstree $(DKMS_CHECK)/tree \
		-m cowfs -v $(DKMS_VERSION) -k $(KVER)
	@ko=$$(find $(DKMS_CHECK)/tree/cowfs/$(DKMS_VERSION)/$(KVER) -name 'cowfs.ko*' | head -n1); \
	if [ -n "$$ko" ]; then echo "dkms-check: built $${ko#$(CURDIR)/}"; \
	else echo "dkms-check: dkms built no cowfs.ko" >&2; exit 1; fi

clean:
	$(call phase,clean)
	@if [ -f "$(KDIR)/Makefile" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	$(MAKE) -C tools/cowctl clean
	$(MAKE) -C selftests clean
	rm -rf build .checkpatch-camelcase.*

distclean: clean
	rm -rf .ksrc .ksrc.lock
