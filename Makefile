# Strata: the two commands of README.md.
#   make demo   - install what is missing, build, run the main job
#   make test   - install what is missing, build, run every test (plain and ASan+UBSan builds)
# Other targets: build, asan, bench (side-by-side benchmark), bench-server (strata-server beside
# redis-server), install, clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
WERROR     ?= ON
CMAKE_ARGS ?=

.PHONY: all deps build asan test test-plain test-asan demo bench bench-server install clean

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

# strata-server beside Debian's redis-server in matching durability modes, interleaved
# (redis-benchmark -t set,get,incr,mset -n 200000 -r 1000000 -c 50, and -P 16); the table of
# ratios lands in $(BUILD)/bench-server/results.txt. See bench/server_bench.sh (BIG=1, ROUNDS=3).
bench-server: build
	sh bench/server_bench.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
