# A thin layer over CMake's presets (CMakePresets.json), each building in build/<preset>:
# debug (the tests), asan, tsan, release (make run, the benchmarks), fuzz. The scripts keep what
# CMake cannot express: installing packages (deps.sh), PostgreSQL clusters (test.sh, run.sh,
# bench*.sh), sanitizer report checks (sanitize.sh), fuzzing runs (fuzz.sh).
.PHONY: all build run test chaos asan tsan release layer-check bench bench-queue bench-intake \
	bench-api fuzz fuzz-smoke format format-check clean

JOBS ?= $(shell nproc)

# $(call preset,NAME): configure and build one preset.
preset = cmake --preset $(1) >/dev/null && cmake --build --preset $(1) -j$(JOBS)

all: build

build:
	scripts/deps.sh test
	$(call preset,debug)

run:
	scripts/deps.sh run
	$(call preset,release) --target railhook railway-sim
	scripts/run.sh

# Every suite (the chaos suite in its short form), then each fuzzer for a few seconds.
test: build
	scripts/test.sh debug
	FUZZ_SMOKE_SECONDS=$${FUZZ_SMOKE_SECONDS:-5} $(MAKE) fuzz-smoke

# The resilience suite at full size: 1000 provisions through kill -9s, 200 against 20 %
# Railway faults, a 10 s PostgreSQL outage, hostile clients, secrets (tests/chaos/).
chaos: build
	CHAOS_SCALE=full scripts/test.sh debug -L chaos

# The whole suite under ASan+UBSan, and the process-level tests against a TSan railhook;
# both fail on any report, the spawned processes' included (scripts/sanitize.sh).
asan:
	scripts/deps.sh test
	$(call preset,asan)
	scripts/sanitize.sh asan

tsan: build
	$(call preset,tsan) --target railhook test_integration_queue_process
	scripts/sanitize.sh tsan

release:
	scripts/deps.sh run
	$(call preset,release)

# A copy of the tree with a deliberate upward include and call must fail to build, each for
# the layer reason (cmake/layer_probe.cmake).
layer-check:
	scripts/deps.sh run
	cmake -P cmake/layer_probe.cmake

# Every benchmark next to its same-run baseline, as one markdown table (bench/report.md).
bench:
	scripts/deps.sh bench
	$(call preset,release)
	scripts/bench-report.sh

# The job queue's throughput and start delay.
bench-queue:
	scripts/deps.sh run
	$(call preset,release)
	scripts/bench.sh queue

# Signed pushes through POST /webhooks/github at c=32 (wrk) against pgbench's single-row
# inserts of the same payload, on one durable cluster, railhook at its defaults
# (BENCH_SECONDS=...).
bench-intake:
	scripts/deps.sh bench
	$(call preset,release)
	scripts/bench.sh intake

# GET /jobs/{id} of 8 running and 8 finished jobs at c=16 (wrk) against pgbench's prepared
# primary-key reads at c=16, on one durable cluster, railhook at its defaults
# (BENCH_SECONDS=..., BENCH_ROUNDS=...).
bench-api:
	scripts/deps.sh bench
	$(call preset,release)
	scripts/bench.sh api

# libFuzzer targets (fuzz/*.c, clang, ASan+UBSan) for the webhook parsers, Railway's answers
# and the redaction of what is stored around jobs, FUZZ_SECONDS each (60).
fuzz:
	scripts/deps.sh fuzz
	$(call preset,fuzz)
	scripts/fuzz.sh build/fuzz

fuzz-smoke:
	scripts/deps.sh fuzz
	$(call preset,fuzz)
	FUZZ_SECONDS=$${FUZZ_SMOKE_SECONDS:-10} scripts/fuzz.sh build/fuzz

FORMAT_FILES = $$(git ls-files '*.c' '*.h')

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build
