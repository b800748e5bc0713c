# A thin layer over CMake: every target states its own set-up.
.PHONY: all build run test asan tsan release bench-queue bench-intake fuzz fuzz-smoke format \
	format-check clean

all: build

build:
	cmake -S . -B build >/dev/null
	cmake --build build -j$$(nproc)

run:
	scripts/run.sh

test:
	scripts/test.sh build -DCMAKE_BUILD_TYPE=Debug $(if $(CI),-DRAILHOOK_WERROR=ON)

asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		scripts/test.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DRAILHOOK_SANITIZE=address

tsan:
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		scripts/test.sh build-tsan -DCMAKE_BUILD_TYPE=Debug -DRAILHOOK_SANITIZE=thread

release:
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DRAILHOOK_TESTS=OFF >/dev/null
	cmake --build build-release -j$$(nproc)

# The job queue's throughput and start delay (BUILD_DIR=... picks the build folder).
bench-queue:
	scripts/bench.sh queue

# Signed pushes through POST /webhooks/github at c=32 (wrk) against pgbench's single-row
# inserts of the same payload, on one durable cluster (BUILD_DIR=..., BENCH_SECONDS=...).
bench-intake:
	scripts/bench.sh intake

# libFuzzer targets (clang, ASan+UBSan) for the webhook parsers, FUZZ_SECONDS each (60).
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
