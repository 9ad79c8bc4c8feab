#!/usr/bin/env bash
# Runs examples/sync/SyncTwoProcesses.java as two processes on GPUs 0 and 1 (NCCL wants one GPU per
# rank), meeting through NCCL. Needs two GPUs, NCCL's libnccl.so.2 and CUDA 12's runtime where the
# loader finds them, a JDK 17, Maven, and the jar (./jnorm builds it). The classpath adds JavaCPP's
# CUDA presets with their natives for this platform, which jnorm.jar leaves to its users.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
version="$(sed -n 's:.*<javacpp.cuda.version>\(.*\)</javacpp.cuda.version>.*:\1:p' pom.xml)"
platform=linux-x86_64
mkdir -p target/nccl
for artifact in "org.bytedeco:cuda:$version" "org.bytedeco:cuda:$version:jar:$platform" \
                "org.bytedeco:javacpp:${version##*-}" "org.bytedeco:javacpp:${version##*-}:jar:$platform"; do
  mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory=target/nccl
done
[ -f target/jnorm.jar ] || ./jnorm --help > /dev/null
classpath="target/jnorm.jar:$(ls target/nccl/*.jar | tr '\n' ':')"
id="$(mktemp -d)/nccl.id"
java -cp "$classpath" examples/sync/SyncTwoProcesses.java 0 2 "$id" &
java -cp "$classpath" examples/sync/SyncTwoProcesses.java 1 2 "$id"
wait
