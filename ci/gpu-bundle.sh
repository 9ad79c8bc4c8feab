#!/usr/bin/env bash
# Builds the bundle that ci/gpu-check.sh runs on a GPU runner without a JDK: a jlink Java runtime,
# jnorm.jar, the test classes, JUnit's console launcher, NCCL's JNI bindings, PyTorch's baseline script and a copy of
# gpu-check.sh (so the bundle alone is enough). Needs a JDK 17 (jlink, jar) and Maven here.
# Usage: ci/gpu-bundle.sh [OUT_DIR] (default target/gpu-bundle). At most 64 MiB, the most a GPU
# runner's call carries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/target/gpu-bundle}"
console_version="${CONSOLE_LAUNCHER_VERSION:-1.14.1}"  # docker/Dockerfile passes its own
modules=java.base,java.logging,java.management,java.xml,java.sql,jdk.unsupported,jdk.zipfs

jdk="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
[ -d "$jdk/jmods" ] || { echo "gpu-bundle: $jdk has no jmods; set JAVA_HOME to a full JDK 17" >&2; exit 1; }

cd "$root"
mvn -q -B -Dstyle.color=never -DskipTests package
rm -rf "$out"
mkdir -p "$out/lib" "$out/bench"
# jnorm.jar without OpenBLAS's library (15 MB; the CPU training stack's GEMM, which the GPU check does
# not use: without it the CPU backend takes netlib's BLAS or its plain loop)
slim="$(mktemp -d)"
mkdir "$slim/jar"
(cd "$slim/jar" && "$jdk/bin/jar" xf "$root/target/jnorm.jar" && rm -rf org/bytedeco/openblas \
  && mv META-INF/MANIFEST.MF "$slim/manifest.mf" && "$jdk/bin/jar" cfm "$out/lib/jnorm.jar" "$slim/manifest.mf" .)
rm -rf "$slim"
(cd target/test-classes && "$jdk/bin/jar" cf "$out/lib/jnorm-tests.jar" .)
mvn -q -B dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$console_version" \
  -DoutputDirectory="$out/lib"
mv "$out/lib/junit-platform-console-standalone-$console_version.jar" "$out/lib/junit-console.jar"
# NCCL's JNI bindings for NcclGpuTest (JavaCPP's, for linux-x86_64): only their two libraries and
# JavaCPP's own, not the presets' whole natives jar; NCCL and CUDA 12's runtime come from the runner
# (gpu-check.sh looks in PyTorch's packages for them).
cuda_presets="$(sed -n 's:.*<javacpp.cuda.version>\(.*\)</javacpp.cuda.version>.*:\1:p' "$root/pom.xml")"
natives="$(mktemp -d)"
mvn -q -B dependency:copy -Dartifact="org.bytedeco:cuda:$cuda_presets:jar:linux-x86_64" -DoutputDirectory="$natives"
mvn -q -B dependency:copy -Dartifact="org.bytedeco:javacpp:${cuda_presets##*-}:jar:linux-x86_64" \
  -DoutputDirectory="$natives"
(cd "$natives" && mkdir x && cd x \
  && unzip -q ../cuda-*.jar 'org/bytedeco/cuda/linux-x86_64/libjninccl.so' 'org/bytedeco/cuda/linux-x86_64/libjnicudart.so' \
  && unzip -q ../javacpp-*.jar 'org/bytedeco/javacpp/linux-x86_64/*' \
  && "$jdk/bin/jar" cf "$out/lib/nccl-natives.jar" .)
rm -rf "$natives"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$out/runtime"
cp "$root/bench/torch_baseline.py" "$out/bench/"
cp "$root/ci/gpu-check.sh" "$out/gpu-check.sh"
echo "${JNORM_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}" > "$out/commit"
size=$(du -sk "$out" | cut -f1)
echo "gpu-bundle: $out ($((size / 1024)) MiB)"
[ "$size" -le $((64 * 1024)) ] || { echo "gpu-bundle: over the 64 MiB a GPU runner's call carries" >&2; exit 1; }
