# ksmplus — build, test, install.  See README.md.
#   make deps        apt-install what the build and tests need (Debian 12)
#   make             build/ksmplusd, build/ksmplusctl
#   make check       unit + integration tests, plain and under ASan+UBSan
#   make check-reliability  hostile targets and clients vs an ASan+UBSan daemon
#   make bench       benchmark table
#   make check-kernel  kernel patches in a QEMU-booted 6.12 kernel
#   make check-kernel-debug  the same tests on KASAN/KMEMLEAK/lockdep/THP/NUMA/swap
#                    kernels (tests/kernel/debug.fragment; not in .ci/run: see README)
#   make check-systemd  the unit under a real systemd (PID 1) in a QEMU guest
#   make check-fleet   Containerfile and deploy/kubernetes checked offline
#   make fuzz        libFuzzer harnesses (tests/fuzz) replaying their corpus
#   make fuzz-explore  the same with random seeds, FUZZ_SECONDS each (default 300)
#   make coverage    unit + integration tests with --coverage; gcovr's summary for daemon/
#   make install     DESTDIR/PREFIX honoured; never overwrites /etc/ksmplusd.conf
#   make deb         $(BUILD)/deb/ksmplus_*.deb (debian/, built from a copy of the tree)
#   make check-deb   the package: builds, lintian, dpkg -i, --check-config, dpkg --purge

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
DESTDIR    ?=

CC      ?= gcc
BUILD   ?= build
SAN     ?= 0
PKGS    := libsystemd libproc2 inih libxxhash
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -D_GNU_SOURCE \
           -Idaemon $(PKG_CFLAGS)
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# The library instrumented for libFuzzer (make fuzz sets FUZZ=1 and CC=clang).
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
endif
# gcov counters (make coverage).
ifeq ($(COV),1)
CFLAGS  += --coverage -O0
LDFLAGS += --coverage
endif

# Every daemon/*.c but the two programs' mains forms the library.
LIB_SRCS := $(filter-out daemon/ksmplusd.c daemon/ksmplusctl.c,$(wildcard daemon/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libksmplus.a

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
WORKLOADS  := $(patsubst tests/workload/%.c,$(BUILD)/tests/%,$(wildcard tests/workload/*.c))
BENCH_PROGS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))

.PHONY: all deps check check-unit check-integration check-plain check-asan check-valgrind bench \
        install uninstall clean deb check-deb check-kernel lint check-reliability fuzz fuzz-build fuzz-explore fuzz-merge coverage \
        check-fleet

all: $(BUILD)/ksmplusd $(BUILD)/ksmplusctl

deps:
	./scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/ksmplusd: $(BUILD)/daemon/ksmplusd.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/ksmplusctl: $(BUILD)/daemon/ksmplusctl.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PKG_LIBS)

# Workloads are the processes under test, not code under test: always built
# plain. ASan's terabytes of reserved shadow would make them unlike any real
# app (and make KSM's unmerge walk every page of it).
WL_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -D_GNU_SOURCE
$(BUILD)/tests/%: tests/workload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WL_CFLAGS) -o $@ $<

# bench programs: standalone load generators and probes (libproc2 for the baseline)
$(BUILD)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

check-unit: $(UNIT_TESTS) $(WORKLOADS)
	./tests/run-unit.sh $(UNIT_TESTS)

check-integration: all $(WORKLOADS) $(BUILD)/bench/exec_latency
	BUILD=$(BUILD) ./tests/run-integration.sh

check-plain: check-unit check-integration

check-asan:
	$(MAKE) BUILD=build-asan SAN=1 check-plain

# Hostile targets and clients (tests/reliability) against the daemon built
# with ASan+UBSan; prints the daemon's fds, RSS and status latency under each.
check-reliability:
	$(MAKE) all
	$(MAKE) BUILD=build-asan SAN=1 all $(WORKLOADS:$(BUILD)/%=build-asan/%) build-asan/bench/exec_latency
	BUILD=build-asan ./tests/run-reliability.sh

# Unit tests under valgrind too. Those that need pidfds are left out:
# valgrind 3.19 (Debian 12) does not know pidfd_open or process_madvise.
VALGRIND_TESTS := $(filter-out %/test_pidref %/test_enroll_ptrace %/test_enroll_pmadv %/test_members,$(UNIT_TESTS))
check-valgrind: $(VALGRIND_TESTS)
	VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	  ./tests/run-unit.sh $(VALGRIND_TESTS)

# The fleet path (Containerfile, deploy/kubernetes), offline and in seconds:
# the manifests against the unit's capabilities, the config against
# --check-config, broken copies that must be caught; the image is built only
# where a builder and the base images are (else SKIP, with the reason).
check-fleet: all
	BUILD=$(BUILD) ./tests/fleet/run.sh

# Plain build first, then every test again under AddressSanitizer + UBSan,
# then the unit tests under valgrind; the fleet manifests last.
check:
	$(MAKE) check-plain
	$(MAKE) check-asan
	$(MAKE) check-valgrind
	$(MAKE) check-fleet

# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c) against the library built with
# clang, ASan and UBSan in build-fuzz; any crash, leak or failed check fails
# the target, the input saved in build-fuzz/crashes/.  `fuzz` is repeatable:
# it replays every input of tests/fuzz/corpus/NAME once.  `fuzz-explore`
# looks for new bugs (random mutations, FUZZ_SECONDS per harness) and
# `fuzz-merge` keeps what it found that reaches new code.
FUZZ_SECONDS ?= 300
FUZZERS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang FUZZ=1 fuzz-build
	./tests/fuzz/run.sh build-fuzz $(FUZZERS)

fuzz-explore:
	$(MAKE) BUILD=build-fuzz CC=clang FUZZ=1 fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh build-fuzz $(FUZZERS)

# Adds to tests/fuzz/corpus/NAME the inputs fuzz-explore found that reach new
# code (libFuzzer's -merge=1 keeps the smallest such set), for `make fuzz`.
fuzz-merge:
	$(MAKE) BUILD=build-fuzz CC=clang FUZZ=1 fuzz-build
	for f in $(FUZZERS); do \
	  (cd build-fuzz && TMPDIR=/dev/shm ./fuzz/fuzz_$$f -merge=1 $(CURDIR)/tests/fuzz/corpus/$$f \
	    $(CURDIR)/build-fuzz/corpus/$$f) || exit 1; done

# Line coverage of daemon/ by the unit and integration tests, in build-cov.
coverage:
	rm -f $$(find build-cov -name '*.gcda' 2>/dev/null)
	$(MAKE) BUILD=build-cov COV=1 check-unit check-integration
	gcovr --root . --object-directory build-cov --filter 'daemon/' --print-summary \
	  --sort-percentage build-cov | tee build-cov/coverage.txt

bench: all $(WORKLOADS) $(BENCH_PROGS)
	BUILD=$(BUILD) ./tests/bench/run.sh

lint: all
	@mkdir -p $(BUILD)/lint
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c11 --inline-suppr -D_GNU_SOURCE -Idaemon daemon tests/unit tests/workload tests/bench tests/fuzz
	sed 's|@SBINDIR@|$(abspath $(BUILD))|g' systemd/ksmplusd.service > $(BUILD)/lint/ksmplusd.service
	systemd-analyze verify --man=no $(BUILD)/lint/ksmplusd.service
	# 2.2: root with CAP_SYS_PTRACE, CAP_SYS_ADMIN (see README), ptrace, host netns
	systemd-analyze security --offline=true --threshold=22 $(BUILD)/lint/ksmplusd.service \
	  > $(BUILD)/lint/security.txt || { cat $(BUILD)/lint/security.txt; exit 1; }
	tail -n 1 $(BUILD)/lint/security.txt

install: all
	install -D -m 0755 $(BUILD)/ksmplusd $(DESTDIR)$(SBINDIR)/ksmplusd
	install -D -m 0755 $(BUILD)/ksmplusctl $(DESTDIR)$(BINDIR)/ksmplusctl
	install -D -m 0644 man/ksmplusd.8 $(DESTDIR)$(MANDIR)/man8/ksmplusd.8
	install -D -m 0644 man/ksmplusctl.1 $(DESTDIR)$(MANDIR)/man1/ksmplusctl.1
	install -D -m 0644 man/ksmplusd.conf.5 $(DESTDIR)$(MANDIR)/man5/ksmplusd.conf.5
	install -D -m 0644 completion/ksmplusctl.bash $(DESTDIR)$(COMPLETIONDIR)/ksmplusctl
	install -D -m 0644 completion/_ksmplusctl $(DESTDIR)$(ZSHCOMPDIR)/_ksmplusctl
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/ksmplusd.service > $(BUILD)/ksmplusd.service
	install -D -m 0644 $(BUILD)/ksmplusd.service $(DESTDIR)$(UNITDIR)/ksmplusd.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/ksmplusd.conf.d
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ksmplusd.conf ]; then \
	  echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/ksmplusd.conf"; \
	else \
	  install -D -m 0644 config/ksmplusd.conf $(DESTDIR)$(SYSCONFDIR)/ksmplusd.conf; \
	fi

# The Debian package (debian/, debhelper). dpkg-buildpackage works in the
# source tree it is given and leaves debian/ksmplus, debian/files, ... behind
# (and its output in the tree's parent): so it gets a copy of this tree, in
# $(BUILD)/deb/ksmplus, and the .deb lands in $(BUILD)/deb. The package's
# own make must not inherit this one's variables (MAKEFLAGS would carry a
# BUILD=... given here and build into this tree's build directory).
DEB_DIR := $(BUILD)/deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/ksmplus
	tar -cf - --exclude-vcs --exclude='./build' --exclude='./build-*' --exclude='./$(BUILD)' . | \
	  tar -xf - -C $(DEB_DIR)/ksmplus
	cd $(DEB_DIR)/ksmplus && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SAN \
	  dpkg-buildpackage -us -uc -b -jauto
	@ls $(DEB_DIR)/ksmplus_*.deb

# Builds the package (make deb), lints it, installs it here with dpkg -i,
# validates the installed config and purges it; see tests/package/check-deb.sh.
# It skips (exit 77, saying why) where ksmplus is already installed.
check-deb:
	BUILD=$(BUILD) ./tests/package/check-deb.sh || [ $$? -eq 77 ]

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ksmplusd $(DESTDIR)$(BINDIR)/ksmplusctl \
	  $(DESTDIR)$(UNITDIR)/ksmplusd.service $(DESTDIR)$(MANDIR)/man8/ksmplusd.8 \
	  $(DESTDIR)$(MANDIR)/man1/ksmplusctl.1 $(DESTDIR)$(MANDIR)/man5/ksmplusd.conf.5 \
	  $(DESTDIR)$(COMPLETIONDIR)/ksmplusctl $(DESTDIR)$(ZSHCOMPDIR)/_ksmplusctl

clean:
	rm -rf build build-asan build-fuzz build-cov

-include kernel-patch/kernel.mk

# The kernel tests on the debug flavour (tests/kernel/run.sh --debug): its own
# cached kernels, two boots per flavour. FLAVOR=patched|unpatched|both.
.PHONY: check-kernel-debug
check-kernel-debug: all
	BUILD=$(BUILD) tests/kernel/run.sh --debug --flavor $(or $(FLAVOR),both)
-include $(shell find $(BUILD) -path '$(BUILD)/deb' -prune -o -name '*.d' -type f -print 2>/dev/null)
