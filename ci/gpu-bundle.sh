#!/usr/bin/env bash
# Builds the bundle that ci/gpu-check.sh runs on a GPU runner without a JDK: a jlink Java runtime,
# jnorm.jar, the test classes, JUnit's console launcher, PyTorch's baseline script and a copy of
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
cp target/jnorm.jar "$out/lib/"
(cd target/test-classes && "$jdk/bin/jar" cf "$out/lib/jnorm-tests.jar" .)
mvn -q -B dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$console_version" \
  -DoutputDirectory="$out/lib"
mv "$out/lib/junit-platform-console-standalone-$console_version.jar" "$out/lib/junit-console.jar"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$out/runtime"
cp "$root/bench/torch_baseline.py" "$out/bench/"
cp "$root/ci/gpu-check.sh" "$out/gpu-check.sh"
echo "${JNORM_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}" > "$out/commit"
size=$(du -sk "$out" | cut -f1)
echo "gpu-bundle: $out ($((size / 1024)) MiB)"
[ "$size" -le $((64 * 1024)) ] || { echo "gpu-bundle: over the 64 MiB a GPU runner's call carries" >&2; exit 1; }
