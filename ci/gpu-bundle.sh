#!/usr/bin/env bash
# Builds a self-contained bundle that runs jnorm's GPU test suite on a CUDA host without a JDK or
# Maven: a jlink Java runtime, jnorm.jar, the test classes, JUnit's console launcher and run.sh.
# Needs a JDK 17 (jlink, jar) and Maven here. Usage: ci/gpu-bundle.sh [OUT_DIR] (default
# target/gpu-bundle). On the GPU host: OUT_DIR/run.sh [REPORT.md] (see run.sh).
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
mkdir -p "$out/lib"
cp target/jnorm.jar "$out/lib/"
(cd target/test-classes && "$jdk/bin/jar" cf "$out/lib/jnorm-tests.jar" .)
mvn -q -B dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$console_version" \
  -DoutputDirectory="$out/lib"
mv "$out/lib/junit-platform-console-standalone-$console_version.jar" "$out/lib/junit-console.jar"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$out/runtime"
echo "${JNORM_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}" > "$out/commit"
cp "$root/ci/gpu-bundle-run.sh" "$out/run.sh"
chmod +x "$out/run.sh"
size=$(du -sm "$out" | cut -f1)
echo "gpu-bundle: $out ($size MB)"
[ "$size" -lt 60 ] || { echo "gpu-bundle: over the 60 MB budget" >&2; exit 1; }
