# SPDX-License-Identifier: GPL-2.0
#
# cowfs: build, check and test.
#
#   make              build the module, cowctl and the selftests
#   make check        everything CI runs: deps, ksrc, build, checkpatch,
#                     W=1, sparse and the selftests in a VM
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
	checkpatch w1 sparse test check demo shell kdir bench bench-quick

all: module cowctl selftests

help:
	@sed -n '3,15s/^# \{0,1\}//p' Makefile
	@echo 'targets: all module cowctl selftests deps ksrc checkpatch w1 sparse'
	@echo '         test check demo shell clean distclean stress'

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

w1: kdir
	$(call phase,w1: module build with W=1 (no warnings allowed))
	@MAKE="$(MAKE)" scripts/kbuild-check.sh w1 $(KDIR)

sparse: kdir
	$(call phase,sparse: module build with C=2 CHECK=sparse)
	@MAKE="$(MAKE)" scripts/kbuild-check.sh sparse $(KDIR)

test:
	$(call phase,test: selftests in a VM)
	scripts/vm $(VM_ARGS) -- scripts/run-tests.sh $(T)

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

# Storage driver benchmark in the VM: scripts/bench/run.sh (BENCH_ARGS=
# '--drivers cowfs,zfs' to pick).  bench-quick: bench-results/quick/.
bench bench-quick: deps module cowctl
	$(call phase,$@: storage drivers in a VM)
	scripts/bench/run.sh $(if $(filter bench-quick,$@),--quick,--full) $(BENCH_ARGS)

clean:
	$(call phase,clean)
	@if [ -f "$(KDIR)/Makefile" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	$(MAKE) -C tools/cowctl clean
	$(MAKE) -C selftests clean
	rm -rf build .checkpatch-camelcase.*

distclean: clean
	rm -rf .ksrc .ksrc.lock
