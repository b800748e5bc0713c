# A thin layer over CMake: every target states its own set-up.
.PHONY: all build run test chaos asan tsan release bench bench-queue bench-intake bench-api fuzz \
	fuzz-smoke format format-check clean

all: build

build:
	cmake -S . -B build >/dev/null
	cmake --build build -j$$(nproc)

run:
	scripts/run.sh

# Every suite (the chaos suite in its short form), then each fuzzer for a few seconds.
test:
	scripts/test.sh build -DCMAKE_BUILD_TYPE=Debug $(if $(CI),-DRAILHOOK_WERROR=ON)
	FUZZ_SECONDS=$${FUZZ_SMOKE_SECONDS:-5} scripts/fuzz.sh build-fuzz

# The resilience suite at full size: 1000 provisions through kill -9s, 200 against 20 %
# Railway faults, a 10 s PostgreSQL outage, hostile clients, secrets (tests/chaos/).
chaos:
	CHAOS_SCALE=full CRITERION_ARGS="--filter chaos/*" scripts/test.sh build \
		-DCMAKE_BUILD_TYPE=Debug

# The whole suite under ASan+UBSan, and the process-level tests against a TSan railhook;
# both fail on any report, the spawned processes' included (scripts/sanitize.sh).
asan:
	scripts/sanitize.sh asan

tsan:
	scripts/sanitize.sh tsan

release:
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DRAILHOOK_TESTS=OFF >/dev/null
	cmake --build build-release -j$$(nproc)

# Every benchmark next to its same-run baseline, as one markdown table (bench/report.md).
bench:
	scripts/bench-report.sh

# The job queue's throughput and start delay (BUILD_DIR=... picks the build folder).
bench-queue:
	scripts/bench.sh queue

# Signed pushes through POST /webhooks/github at c=32 (wrk) against pgbench's single-row
# inserts of the same payload, on one durable cluster (BUILD_DIR=..., BENCH_SECONDS=...).
bench-intake:
	scripts/bench.sh intake

# GET /jobs/{id} of a finished job at c=16 (wrk) against pgbench's prepared primary-key reads
# at c=16, on one durable cluster (BUILD_DIR=..., BENCH_SECONDS=..., BENCH_ROUNDS=...).
bench-api:
	scripts/bench.sh api

# libFuzzer targets (clang, ASan+UBSan) for the webhook parsers, Railway's answers and the
# redaction of what is stored around jobs, FUZZ_SECONDS each (60).
fuzz:
	scripts/fuzz.sh build-fuzz

fuzz-smoke:
	FUZZ_SECONDS=10 scripts/fuzz.sh build-fuzz

FORMAT_FILES = $$(git ls-files '*.c' '*.h')

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build build-asan build-tsan build-release build-fuzz
