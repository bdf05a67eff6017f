# cosched: the two commands a new machine needs are `make run` and `make test`.
# Everything here wraps CMake presets (CMakePresets.json); PRESET picks the build.
PRESET ?= release
JOBS ?= 2
# CI builds with -Werror; locally warnings stay warnings.
CMAKE_ARGS ?= $(if $(CI),-DCOSCHED_WERROR=ON,)
BIN := build/bin

.PHONY: all deps configure build test run bench lint format format-check tidy clean \
        test-asan test-tsan

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) $(CMAKE_ARGS) > /dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	@ctest --preset $(PRESET) -j $(JOBS)

# The main job as it exists today: a 2-rank standalone Fashion-MNIST job with inference
# traffic (the scheduler issue replaces it with `cosched up --demo`).
run: build
	@$(BIN)/cosched up --demo

bench: build
	@$(BIN)/cosched-bench allreduce --ranks 2 --sizes 4KiB,64KiB,1MiB,16MiB,64MiB --reps 7
	@$(BIN)/cosched-bench inference
	@$(BIN)/cosched-bench scheduler

# Sanitizer runs of the unit tests (label "unit"); only their binaries are built.
test-asan test-tsan: test-%: deps
	@cmake --preset $* $(CMAKE_ARGS) > /dev/null
	@cmake --build --preset $* -j $(JOBS) --target unit_tests
	@ctest --preset $* -j $(JOBS)

# clang-format check plus the clang -Wthread-safety -Werror build.
lint: format-check
	@$(MAKE) --no-print-directory build PRESET=clang

SOURCES = $(shell git ls-files '*.cc' '*.h')

format-check: deps
	@clang-format --dry-run --Werror $(SOURCES)

format: deps
	@clang-format -i $(SOURCES)

clean:
	rm -rf build build-*
