# Strata: the two commands of README.md.
#   make demo   - install what is missing, build, run the main job (and the Python package's demo)
#   make test   - install what is missing, build, run every test (plain and ASan+UBSan builds,
#                 and the Python package's tests: installed into a venv, and under ASan)
# Other targets: build, asan, bench (side-by-side benchmark), bench-server (strata-server beside
# redis-server), install, clean; python (the Python package pip-installed into $(VENV)),
# test-python, test-python-asan, bench-python.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
WERROR     ?= ON
CMAKE_ARGS ?=
# The Python package (python/): Debian's interpreter, a venv that sees Debian's packages
# (pytest, hypothesis, numpy, plyvel, lmdb), and the ASan build of the extension.
PYTHON     ?= /usr/bin/python3
VENV       ?= $(BUILD)/venv
PY_ASAN    ?= $(ASAN_BUILD)/python

.PHONY: all deps build asan test test-plain test-asan demo bench bench-server install clean \
	python test-python python-asan test-python-asan bench-python

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

# The package as a user installs it: pip, offline, into a venv made from Debian's Python.
python: deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install --no-build-isolation --no-index --quiet ./python

# STRATA_CLI: the C tool, whose output python -m strata's tests compare with their own.
test-python: python build
	STRATA_CLI=$(abspath $(BUILD))/strata $(VENV)/bin/python -m pytest -q -p no:cacheprovider python/tests

# The extension and the engine built with ASan+UBSan, run by Debian's Python with the ASan
# runtime preloaded (Python itself is not instrumented; its exit-time leaks are not ours).
python-asan: deps
	cd python && STRATA_SANITIZE=1 $(PYTHON) setup.py -q build --build-lib ../$(PY_ASAN)/lib \
		--build-temp ../$(PY_ASAN)/tmp

test-python-asan: python-asan build
	STRATA_CLI=$(abspath $(BUILD))/strata PYTHONPATH=$(PY_ASAN)/lib LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		STRATA_TEST_SCALE=asan $(PYTHON) -m pytest -q -p no:cacheprovider python/tests

test: test-plain test-asan test-python test-python-asan

# python -P: python/ must not come first on sys.path, where the source tree's strata/
# (without the built extension) would shadow the installed package.
demo: build python
	sh scripts/demo.sh $(BUILD)/strata
	$(VENV)/bin/python -P python/demo.py

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

# The Python benchmark: strata, Debian's python3-plyvel and python3-lmdb, and sqlite3,
# interleaved; a table (results.md) and a chart (ratios.png).
bench-python: python
	mkdir -p $(BUILD)/bench-results
	$(VENV)/bin/python python/bench/bench.py --out $(BUILD)/bench-results/python

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
fuzz:
	@sh scripts/install-deps.sh clang
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON -DSTRATA_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers
	sh scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean: clean-tsan-fuzz
clean-tsan-fuzz:
	rm -rf $(TSAN_BUILD) $(FUZZ_BUILD)
