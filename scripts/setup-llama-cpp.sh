#!/usr/bin/env bash
# llama.cpp for the llama.cpp backend (issue 12): llama-cpp-python built from source (CPU only) and llama.cpp's
# own llama-bench + llama-quantize from the same vendored llama.cpp, all cached in CACHE and reused when present.
#   cold: ~25-35 min on 2 shared cores (178 objects); warm (wheel + binaries cached): ~10 s
# Usage: setup-llama-cpp.sh [CACHE]   (default $BENCHBENCH_LLAMA_CACHE or /var/cache/benchbench-llama)
set -euo pipefail
VERSION=0.3.36
CACHE="${1:-${BENCHBENCH_LLAMA_CACHE:-/var/cache/benchbench-llama}}"
PY="${PYTHON:-python3}"
mkdir -p "$CACHE/sdist" "$CACHE/wheels" "$CACHE/bin"
SDIST="$CACHE/sdist/llama_cpp_python-$VERSION.tar.gz"
BUILD="$CACHE/build-wheel"
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2

if ! ls "$CACHE"/wheels/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
    [ -f "$SDIST" ] || "$PY" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$CACHE/sdist"
    # build-dir kept: llama-bench below links against the same libraries
    "$PY" -m pip wheel -q --no-deps -w "$CACHE/wheels" --config-settings=build-dir="$BUILD" "$SDIST"
fi
"$PY" -m pip install -q "$CACHE"/wheels/llama_cpp_python-"$VERSION"-*.whl "gguf>=0.10"

# llama-bench and llama-quantize (~10 s each): compiled from the vendored sources against the libraries built above
if [ ! -x "$CACHE/bin/llama-bench" ] || [ ! -x "$CACHE/bin/llama-quantize" ]; then
    SRC="$CACHE/src/llama_cpp_python-$VERSION"
    [ -d "$SRC" ] || { mkdir -p "$CACHE/src"; tar -xzf "$SDIST" -C "$CACHE/src"; }
    V="$SRC/vendor/llama.cpp"
    LIBDIR="$BUILD/bin"  # the build tree's shared libraries (the same as the wheel's, plus llama-common)
    INC=(-I"$V/include" -I"$V/ggml/include" -I"$V/common" -I"$V/vendor")
    LINK=("$LIBDIR/libllama-common.so" "$BUILD/vendor/llama.cpp/common/libllama-common-base.a" -L"$LIBDIR" -lllama
          -lggml -lggml-base -lggml-cpu -lpthread -Wl,-rpath,"$LIBDIR")
    for tool in llama-bench:llama-bench quantize:llama-quantize; do
        dir="$V/tools/${tool%%:*}" exe="$CACHE/bin/${tool##*:}"
        g++ -std=c++17 -O2 -DNDEBUG "${INC[@]}" -I"$dir" "$dir"/*.cpp "${LINK[@]}" -o "$exe.tmp"
        mv "$exe.tmp" "$exe"
    done
fi
ln -sf "$CACHE/bin/llama-bench" /usr/local/bin/llama-bench
ln -sf "$CACHE/bin/llama-quantize" /usr/local/bin/llama-quantize
