# The two commands users need: `make demo` and `make test`. Both bootstrap and build on their own.
PRESET ?= release
JOBS ?= $(shell nproc)
BUILD = build/$(PRESET)
LLMD = $(BUILD)/src/cli/llmd

.PHONY: all bootstrap configure build demo demo-tokenizer test unit asan tsan bench fuzz fuzz-smoke format clean

all: build

bootstrap:
	@scripts/bootstrap

configure: bootstrap
	cmake --preset $(PRESET)

build: bootstrap configure
	cmake --build --preset $(PRESET) -j $(JOBS)

# Round-robin vs llm-d's default scheduler on simulated Qwen3-32B replicas (about 2 minutes).
demo: build
	$(LLMD) demo --out demo-out

# The tokenizer on real model files: chat templates rendered and encoded as Hugging Face would.
demo-tokenizer: build
	scripts/demo $(LLMD)

# Every test: unit, integration and fuzz-corpus replays, under the release build.
test: build
	ctest --preset $(PRESET)

asan:
	@$(MAKE) --no-print-directory test PRESET=asan-ubsan

tsan:
	@$(MAKE) --no-print-directory test PRESET=tsan

bench: build
	scripts/bench-all $(BUILD)

fuzz: bootstrap
	cmake --preset fuzz && cmake --build --preset fuzz -j $(JOBS)

# Every libFuzzer target for FUZZ_SECONDS from its seeds (scripts/fuzz-run); fails on any crash.
FUZZ_SECONDS ?= 30
fuzz-smoke: fuzz
	scripts/fuzz-run --seconds $(FUZZ_SECONDS) --jobs $(JOBS) build/fuzz

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
