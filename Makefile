# The two README commands (run, test) and the developer targets.
BUILD_DIR ?= build
SAN_DIR   ?= build-sanitize
TSAN_DIR  ?= build-tsan
FUZZ_DIR  ?= build-fuzz
FUZZ_SECONDS ?= 60
BUILD_TYPE ?= RelWithDebInfo
RUN_DIR   ?= .run
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test unit integration sanitize-test tsan-test fuzz tls-check format lint bench bench-api bench-kms bench-otp bench-messages bench-fanout clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/herald serve --dev --store.data_dir=$(RUN_DIR)/data

test: build
	./scripts/node-deps.sh
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 300

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -L unit

integration: build
	./scripts/node-deps.sh
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -L integration

sanitize-test: deps
	cmake -S . -B $(SAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHERALD_SANITIZE=ON -DHERALD_BUILD_BENCH=OFF
	cmake --build $(SAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(SAN_DIR) --output-on-failure -j $(JOBS) --timeout 600

tsan-test: deps
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHERALD_TSAN=ON -DHERALD_BUILD_BENCH=OFF
	cmake --build $(TSAN_DIR) -j $(JOBS)
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(abspath tests/tsan.supp)" TEST_TIMEOUT_SCALE=2 \
	  ctest --test-dir $(TSAN_DIR) --output-on-failure -j $(JOBS) --timeout 600

# The in-process benchmarks, a few seconds each, no peer server: micro-benchmarks, the
# store's group commit, durable message publishes and OTP send+verify pairs (these two on
# sqlite and on a throwaway PostgreSQL, or HERALD_BENCH_POSTGRES_URL's database).
bench: build
	$(BUILD_DIR)/bench/bench_micro --benchmark_min_time=0.2
	$(BUILD_DIR)/bench/bench_store_commit --dir $(RUN_DIR)/bench-store
	$(BUILD_DIR)/bench/bench_messages --dir $(RUN_DIR)/bench-messages --threads 2 --inflight 4096 --seconds 4
	$(BUILD_DIR)/bench/bench_otp --dir $(RUN_DIR)/bench-otp --clients 64 --seconds 4 2>/dev/null

# Fan-out under one load generator: nats-server, Herald over ws and over wss, at 1,000
# and 10,000 subscribers (installs nats-server with apt if missing); JSON in $(RUN_DIR)/bench.
bench-fanout: deps $(BUILD_DIR)/build.ninja
	FANOUT_OUT=$(abspath $(RUN_DIR))/bench ./bench/run-fanout.sh $(BUILD_DIR)

# Each libFuzzer target runs FUZZ_SECONDS from its seed corpus (fuzz/corpus/<name>);
# new inputs it finds go to $(FUZZ_DIR)/corpus, crashes to $(FUZZ_DIR)/crashes.
fuzz:
	@./scripts/install-deps.sh fuzz
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DHERALD_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_all
	./scripts/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# testssl.sh (Debian) against `herald serve` on a free loopback port, once with the --dev
# ECDSA certificate and once with an RSA one (TLS_CHECK_KEYS); fails on any finding above
# LOW but the self-signed certificate's own; reports in $(RUN_DIR)/tls-check.
tls-check: $(BUILD_DIR)/build.ninja
	@./scripts/install-deps.sh tls-check
	cmake --build $(BUILD_DIR) -j $(JOBS) --target herald
	./scripts/tls-check.sh $(BUILD_DIR) $(RUN_DIR)/tls-check

# Signed vs unsigned server-API throughput (800 clients x 10 loops; CLIENTS, LOOPS, REPEATS).
bench-api: build
	./bench/run-api.sh $(BUILD_DIR)

# Key service throughput and the cost of encryption at rest (bench/run-kms.sh).
bench-kms: build
	./bench/run-kms.sh $(BUILD_DIR)

# Verification codes: send+verify pairs per second with the log provider, on sqlite then
# on postgres (a throwaway PostgreSQL server, or HERALD_BENCH_POSTGRES_URL's database):
# saturating (CLIENTS callers) and open loop (RATE pairs/s; 0: half of sqlite's figure),
# SECONDS each; DRIVER=sqlite|postgres|both. JSON in $(RUN_DIR)/bench/otp.json.
bench-otp: build
	@mkdir -p $(RUN_DIR)/bench
	$(BUILD_DIR)/bench/bench_otp --dir $(RUN_DIR)/bench-otp --driver $(or $(DRIVER),both) \
	  --clients $(or $(CLIENTS),64) --rate $(or $(RATE),0) --seconds $(or $(SECONDS),10) \
	  --json $(RUN_DIR)/bench/otp.json 2>/dev/null

# Messages to users: durable publishes per second, on sqlite then on postgres (as
# bench-otp): saturating (THREADS publishers, INFLIGHT in flight) and open loop (RATE
# publishes/s; 0: half of sqlite's figure), SECONDS each; DRIVER=sqlite|postgres|both.
# JSON in $(RUN_DIR)/bench/messages.json.
bench-messages: build
	@mkdir -p $(RUN_DIR)/bench
	$(BUILD_DIR)/bench/bench_messages --dir $(RUN_DIR)/bench-messages --driver $(or $(DRIVER),both) \
	  --threads $(or $(THREADS),2) --inflight $(or $(INFLIGHT),4096) --rate $(or $(RATE),0) \
	  --seconds $(or $(SECONDS),10) --json $(RUN_DIR)/bench/messages.json

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

lint: $(BUILD_DIR)/build.ninja
	git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)
