#!/usr/bin/env bash
# Builds the CPU emulator of jnorm's CUDA kernels: OUT_DIR/libjnorm_emulator.so, loaded by the
# test suite's EmulatedDevice where no GPU is present. Needs g++ (C++17) and a JDK's JNI headers.
# Exits 0 without building, and says why, when either is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
if ! command -v g++ >/dev/null 2>&1; then
  echo "emulator: not built (no g++); the emulated GPU tests will be skipped" >&2
  exit 0
fi
jdk="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
if [ ! -f "$jdk/include/jni.h" ]; then
  echo "emulator: not built (no jni.h under $jdk/include); the emulated GPU tests will be skipped" >&2
  exit 0
fi
mkdir -p "$out"
lib="$out/libjnorm_emulator.so"
if [ -f "$lib" ] && [ -z "$(find "$here/.." -name '*.cu*' -newer "$lib" -o -name '*.cpp' -newer "$lib" -o -name '*.h' -newer "$lib" | head -n 1)" ]; then
  exit 0
fi
g++ -std=c++17 -O2 -g -fPIC -shared -Wall -Wno-unknown-pragmas -Wno-unused-function \
  -I"$jdk/include" -I"$jdk/include/linux" -I"$here/.." \
  -o "$lib.tmp" "$here/emulator.cpp" "$here/kernels.cpp"
mv "$lib.tmp" "$lib"
echo "emulator: built $lib" >&2
