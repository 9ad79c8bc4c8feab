#!/usr/bin/env bash
# Builds the CPU emulator of jnorm's CUDA kernels: OUT_DIR/libjnorm_emulator.so, loaded by
# dev.jnorm.backend.cuda.internal.EmulatedDevice (the test suite, and --backend emulated). Needs g++ (C++17)
# and a JDK's JNI headers; exits 0 without building, and says why, when either is missing.
# The kernels are compiled as nvcc compiles them for the GPU in one respect that changes results:
# a·b + c contracts to one fused multiply-add (-ffp-contract=fast, with the FMA instructions).
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
if [ -f "$lib" ] && [ -z "$(find "$here/.." \( -name '*.cu*' -o -name '*.cpp' -o -name '*.h' -o -name build.sh \) -newer "$lib" | head -n 1)" ]; then
  exit 0
fi
fma=""
if grep -qw fma /proc/cpuinfo 2>/dev/null; then
  fma="-mfma -ffp-contract=fast"
else
  echo "emulator: this CPU has no FMA instructions; kernels are emulated without nvcc's contraction" >&2
fi
flags=(-std=c++17 -O2 -g -fPIC -fno-strict-aliasing -Wall -Wno-unknown-pragmas -Wno-unused-function
  -I"$jdk/include" -I"$jdk/include/linux" -I"$here/..")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
g++ "${flags[@]}" $fma -c -o "$tmp/kernels.o" "$here/kernels.cpp" &
g++ "${flags[@]}" -c -o "$tmp/emulator.o" "$here/emulator.cpp"
wait $!
g++ -shared -o "$lib.tmp" "$tmp/kernels.o" "$tmp/emulator.o"
mv "$lib.tmp" "$lib"
echo "emulator: built $lib" >&2
