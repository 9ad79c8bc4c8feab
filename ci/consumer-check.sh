#!/usr/bin/env bash
# A project that depends on the installed jnorm library inherits none of the application's
# dependencies, and the README's API example compiles and runs in it. Installs target/'s library jar
# (built by `mvn verify`) with pom.xml into the local Maven repository, then builds ci/consumer in
# target/consumer: its runtime dependencies must be jnorm's own (JCuda, SLF4J's API) and none of
# picocli, Jackson, progressbar (with JLine), XChart, netlib's BLAS (with arpack) or slf4j-simple.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn() { command mvn -B -q -Dstyle.color=never "$@"; }
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)
jar="target/jnorm-$version.jar"
[ -f "$jar" ] || { echo "consumer-check: $jar missing: run mvn verify first" >&2; exit 1; }
mvn install:install-file -Dfile="$jar" -DpomFile=pom.xml

out=target/consumer
rm -rf "$out"
mkdir -p "$out/src/main/java"
cp ci/consumer/pom.xml "$out/"
# The README's first Java block after its API heading, as the body of a main method.
{
  printf 'import dev.jnorm.backend.Backend;\nimport dev.jnorm.norm.*;\nimport dev.jnorm.tensor.*;\n'
  printf 'public class ReadmeExample {\n    public static void main(String[] args) throws Exception {\n'
  awk '/^## The API in a few lines/ {s=1} s && /^```java$/ {b=1; next} b && /^```$/ {exit} b {print "        " $0}' README.md
  printf '    }\n}\n'
} > "$out/src/main/java/ReadmeExample.java"

cd "$out"
mvn -Djnorm.version="$version" dependency:list -DincludeScope=runtime -DoutputFile=deps.txt -DoutputAbsoluteArtifactFilename=false
echo "consumer-check: a project depending on dev.jnorm:jnorm:$version gets"
sed -n 's/^ *\([^ ].*:.*\)$/  \1/p' deps.txt | sort
grep -q 'org.jcuda:jcuda:' deps.txt || { echo "consumer-check: JCuda missing from the dependencies" >&2; exit 1; }
if grep -Ei 'info\.picocli|com\.fasterxml|me\.tongfei|org\.jline|org\.knowm|dev\.ludovic\.netlib|arpack|slf4j-simple' deps.txt; then
  echo "consumer-check: the library leaks the application's dependencies above" >&2
  exit 1
fi
mvn -Djnorm.version="$version" compile dependency:build-classpath -Dmdep.outputFile=cp.txt
printed=$(java -cp "target/classes:$(cat cp.txt)" ReadmeExample 2>run.err) || { cat run.err >&2; exit 1; }
[ "$printed" = "[2, 256, 100, 152] [2, 256, 100, 152]" ] || { echo "consumer-check: README example printed '$printed'" >&2; exit 1; }
echo "consumer-check: the README example compiled and ran against the library alone: $printed"
