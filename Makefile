# SPDX-License-Identifier: MIT
#
# Entry point. Meson does the building; these targets set up the machine first,
# so that on a fresh Debian 12 host (as root) `make demo` and `make check` are
# all a new user types.

BUILD      ?= build
BUILD_SAN  ?= build-san
BUILD_FUZZ ?= build-fuzz
BUILD_DEB  ?= build-deb
FUZZ_RUNS  ?= 20000
DESTDIR    ?=
PREFIX     ?= /usr/local

.PHONY: all setup build check check-native demo install deb fuzz format format-check clean bench

all: build

setup:
	@scripts/setup.sh

build: setup
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --prefix $(PREFIX)
	@meson compile -C $(BUILD)

check: setup
	@scripts/check.sh $(BUILD) $(BUILD_SAN)

# The same without the kernel lab (its qemu runs take most of check's time).
check-native: setup
	@LATCH_CHECK_KERNEL=0 scripts/check.sh $(BUILD) $(BUILD_SAN)

demo: build
	@scripts/demo.sh $(BUILD)

install: build
	@meson install -C $(BUILD) --destdir "$(DESTDIR)"

# The Debian packages (debian/) into $(BUILD_DEB)/, checked by lintian.
deb: setup
	@scripts/deb.sh $(BUILD_DEB)

# Benchmarks on the lab (docs/performance.md); QUICK=1 for a smoke run.
bench: build
	@$(MAKE) -s -C bench BUILD=$(abspath $(BUILD))
	@bench/run.sh $(BUILD) $(if $(QUICK),--quick)

fuzz: setup
	@scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_RUNS)

# Tracked files and new ones not yet added, so a change is formatted before its first commit.
format:
	@{ git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h'; } | \
		xargs -r clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ) $(BUILD_DEB)
