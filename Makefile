# Strata: the two commands of README.md.
#   make demo   - install what is missing, build, run the main job
#   make test   - install what is missing, build, run every test (plain and ASan+UBSan builds)
# Other targets: build, asan, bench (side-by-side benchmark), install, clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
WERROR     ?= ON
CMAKE_ARGS ?=

.PHONY: all deps build asan test test-plain test-asan demo bench install clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_WERROR=$(WERROR) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=ON -DSTRATA_WERROR=$(WERROR) $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		STRATA_TEST_SCALE=asan ctest --output-on-failure -j$(JOBS)

test: test-plain test-asan

demo: build
	sh scripts/demo.sh $(BUILD)/strata

# The side-by-side benchmark (Strata via leveldb/c.h -- the like-for-like baseline of the
# ratios --, Strata's native API, LevelDB 1.23, RocksDB): three interleaved rounds of
# db_bench's workloads at 1,000,000 entries, readrandom_mt in 2 threads; medians in results.txt.
bench: build
	mkdir -p $(BUILD)/bench-results
	$(BUILD)/bench/strata-bench --engines strata-ldbc,strata,leveldb,rocksdb --repeat 3 --threads 2 \
		--json $(BUILD)/bench-results/results.json \
		--plot $(BUILD)/bench-results/ratios.png | tee $(BUILD)/bench-results/results.txt

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# --- Reliability (issue 13) ---------------------------------------------
#   make test-tsan  ThreadSanitizer over the threaded tests (.ci/run runs it)
#   make fuzz       libFuzzer: every fuzz/fuzz_*.c for FUZZ_SECONDS each
.PHONY: test-tsan fuzz clean-tsan-fuzz

# A TSan build of the tests labelled tsan (the threaded ones, listed in
# tests/CMakeLists.txt), run at the smaller sizes.
TSAN_BUILD ?= build-tsan
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_TSAN=ON -DSTRATA_WERROR=$(WERROR) $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target tsan_tests
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 STRATA_TEST_SCALE=asan \
		STRATA_IOERROR_POINTS=4 STRATA_THREADS_OPS=10000 ctest --output-on-failure -j$(JOBS) -L tsan

# Builds every fuzz/fuzz_*.c with clang (-DSTRATA_FUZZ=ON) and runs each
# for FUZZ_SECONDS from its seed corpus; see fuzz/README.md.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON -DSTRATA_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers
	sh scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean: clean-tsan-fuzz
clean-tsan-fuzz:
	rm -rf $(TSAN_BUILD) $(FUZZ_BUILD)
