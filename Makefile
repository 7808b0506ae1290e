# finmerge — the two commands that matter: `make demo` and `make test`.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_GEN := -G Ninja
# Unity builds (16 sources a translation unit) cut a from-scratch build's CPU time ~2.5x (measured: 24 -> ~10
# CPU minutes for the release build), which is what CI pays twice (release + sanitizer). Sources therefore keep
# file-local names unique within their target (anonymous namespaces are shared within a batch); a clash is a
# compile error, never a silent change. UNITY=OFF builds file by file (faster incremental rebuilds).
UNITY ?= ON
CMAKE_UNITY := -DCMAKE_UNITY_BUILD=$(UNITY) -DCMAKE_UNITY_BUILD_BATCH_SIZE=16

.PHONY: deps build test test-unit test-asan asan-build fuzz demo bench format clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) $(CMAKE_GEN) $(CMAKE_UNITY) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# Every test: the unit and integration tests (release build), then the unit tests again under ASan+UBSan,
# then a short fuzzing run of the safetensors header parser (also under ASan+UBSan).
test: build
	cd $(BUILD) && ctest --output-on-failure -j 1
	$(MAKE) test-asan
	$(MAKE) fuzz

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j 1

# The sanitizer build compiles what the unit tests need: every stage's test binary and the fuzz driver, not the
# CLI (its end-to-end suites run in the release build).
ASAN_TARGETS := test_base test_io test_tokenizer test_chat test_model test_train test_merge test_eval test_gguf \
  test_pipeline test_report safetensors_header_fuzz
asan-build: deps
	@test -f $(ASAN_BUILD)/build.ninja || cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) $(CMAKE_UNITY) -DCMAKE_BUILD_TYPE=Sanitize \
	  -DCMAKE_CXX_FLAGS_SANITIZE="-O1" -DFINMERGE_SANITIZE=ON -DFINMERGE_BENCH=OFF -DFINMERGE_TESTS_NEED_CLI=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target $(ASAN_TARGETS)

# The sanitizer run covers the unit tests; the end-to-end suites (the CLI, npm and llama.cpp oracles, MPI,
# the demo) already ran in the release build and would only re-run the same binary slower here.
ASAN_SKIP := *Command*:*Cli*:LlamaCpp*:DemoRun*:HfConformance*:ChatTemplateOracle*:ModelBench*:TokenizerSpeed*
test-asan: asan-build
	cd $(ASAN_BUILD) && FINMERGE_SANITIZED=1 GTEST_FILTER='-$(ASAN_SKIP)' ctest --output-on-failure -j 1 -E '^cli$$'

fuzz: asan-build
	$(ASAN_BUILD)/safetensors_header_fuzz --seconds 20

demo: build
	$(BUILD)/finmerge demo --out demo-run

bench: build
	bash bench/merge.sh
	bash bench/tokenize.sh
	bash bench/train.sh
	bash bench/eval.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
