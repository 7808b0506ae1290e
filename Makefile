# finmerge — the two commands that matter: `make demo` and `make test`.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_GEN := -G Ninja

.PHONY: deps build test test-unit test-asan fuzz demo bench format clean

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Every test: the unit and integration tests (release build), then the unit tests again under ASan+UBSan,
# then a short fuzzing run of the safetensors header parser.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 1
	$(MAKE) test-asan
	$(MAKE) fuzz

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j 1

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFINMERGE_SANITIZE=ON -DFINMERGE_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && FINMERGE_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 1

fuzz: build
	$(BUILD)/safetensors_header_fuzz --seconds 20

demo: build
	$(BUILD)/finmerge demo --out demo-run

bench: build
	bash bench/merge.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
