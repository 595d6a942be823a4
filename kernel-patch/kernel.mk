# kernel-patch/kernel.mk — included by the top-level Makefile.
#   make check-kernel            build patched + unpatched 6.12 kernels (cached),
#                                boot each in QEMU, run tests/kernel/ in the guest
#   make check-kernel-patched    only the patched kernel
#   make check-kernel-unpatched  only the unpatched kernel (features must be absent)
#   make kernel-images           build kernels, guest tests and initramfs; boot nothing
#   make kernel-checkpatch       scripts/checkpatch.pl --strict on every patch of the series
#   make check-systemd           boot a guest whose PID 1 is systemd (the host's own
#                                root over 9p, a tmpfs overlay) and drive ksmplusd
#                                through systemctl/ksmplusctl (tests/systemd/run.sh)
# Cache: $(KSMPLUS_KERNEL_CACHE) (default /var/tmp/ksmplus-kernel); see
# tests/kernel/run.sh for the other knobs.

KERNEL_RUN := tests/kernel/run.sh

.PHONY: check-kernel check-kernel-patched check-kernel-unpatched kernel-images \
        kernel-checkpatch check-systemd

check-kernel: all
	BUILD=$(BUILD) $(KERNEL_RUN)

check-kernel-patched: all
	BUILD=$(BUILD) $(KERNEL_RUN) --flavor patched

check-kernel-unpatched: all
	BUILD=$(BUILD) $(KERNEL_RUN) --flavor unpatched

kernel-images:
	BUILD=$(BUILD) $(KERNEL_RUN) --build-only

kernel-checkpatch:
	BUILD=$(BUILD) $(KERNEL_RUN) --checkpatch

# kernel-patch/0002 (KSM sampling scan): boot the patched kernel and print the
# table of its tests, sampling=0 against sampling=1 (tests/kernel/sampling-bench.sh).
.PHONY: bench-kernel
bench-kernel:
	BUILD=$(BUILD) tests/kernel/sampling-bench.sh

check-systemd: all $(BUILD)/tests/twin
	BUILD=$(BUILD) tests/systemd/run.sh
