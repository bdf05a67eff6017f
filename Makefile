# cosched: the two commands a new machine needs are `make run` and `make test`.
# Everything here wraps CMake presets (CMakePresets.json); PRESET picks the build.
PRESET ?= release
JOBS ?= 2
# CI builds with -Werror; locally warnings stay warnings.
CMAKE_ARGS ?= $(if $(CI),-DCOSCHED_WERROR=ON,)
BIN := build/bin

.PHONY: all deps configure build test run bench lint format format-check tidy clean \
        test-asan test-tsan deploy-check fuzz

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) $(CMAKE_ARGS) > /dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	@ctest --preset $(PRESET) -j $(JOBS)

# The demo: a local scheduler, data-center workers and a replayed vehicle fleet, all over
# mutual TLS (certificates in ./cosched-certs), train Fashion-MNIST while serving inference.
run: build
	@$(BIN)/cosched up --demo

bench: build
	@$(BIN)/cosched-bench allreduce --ranks 2 --sizes 4KiB,64KiB,1MiB,16MiB,64MiB --reps 7
	@$(BIN)/cosched-bench inference
	@$(BIN)/cosched-bench scheduler
	@$(BIN)/cosched-bench edge

# Sanitizer runs of the unit tests (label "unit"); only their binaries are built, with -g1 so
# reports still name lines. ASan+UBSan at -O0: UBSan's checks make -O1 compile 1.5-2.5x
# slower, and unit tests run quickly either way. TSan at -O1 (its usual setting; -O0 saves it
# nothing) and only on the tests that start threads: a race needs two.
SANITIZER_TESTS_asan := unit_tests
SANITIZER_TESTS_tsan := threaded_unit_tests
test-asan test-tsan: test-%: deps
	@cmake --preset $* $(CMAKE_ARGS) > /dev/null
	@cmake --build --preset $* -j $(JOBS) --target $(SANITIZER_TESTS_$*)
	@ctest --preset $* -j $(JOBS)

# libFuzzer targets (fuzz/) in their own clang build, each run FUZZ_SECONDS over its corpus
# after replaying the inputs that once crashed it.
FUZZ_SECONDS ?= 20
fuzz: deps
	@cmake --preset fuzz $(CMAKE_ARGS) > /dev/null
	@cmake --build --preset fuzz -j $(JOBS) --target fuzzers
	@bash scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

# clang-format check plus clang's -Wthread-safety analysis (and its warnings, as errors) over
# every source file of the default build, without code generation (a fraction of a clang
# build). `make build PRESET=clang` still builds everything with clang.
lint: format-check build
	@python3 scripts/check-thread-safety.py build $(JOBS)

SOURCES = $(shell git ls-files '*.cc' '*.h')

# The deployment assets under deploy/, checked offline as strictly as this machine can; ends
# with one line "N passed, N failed". The shell scripts are linted with shellcheck.
deploy-check: deps
	@shellcheck scripts/*.sh scripts/netns-rsh .ci/run deploy/mpi/cosched-mpirun
	@bash scripts/check-deploy.sh

format-check: deps
	@clang-format --dry-run --Werror $(SOURCES)

format: deps
	@clang-format -i $(SOURCES)

clean:
	rm -rf build build-*
