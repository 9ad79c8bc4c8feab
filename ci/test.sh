#!/usr/bin/env bash
# The README's test command: the PTX check (where nvcc is present), then the whole suite on the
# CPU (the CUDA backend's tests on the kernel emulator, with a small device's geometry and an
# H200's; those that need a real GPU skip themselves, printing why), then a project that depends on
# the installed library (it must inherit none of the application's dependencies, and the README's
# API example must run in it), then the library's Javadoc (doclint on, a warning fails), then the
# container test (which skips itself, saying why, without a Docker engine with the NVIDIA runtime),
# then the GPU check's dry run (the bundle a GPU runner takes, and every step of ci/gpu-check.sh that needs no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/check-ptx.sh
mvn -B -Dstyle.color=never verify
bash ci/consumer-check.sh
rm -rf target/reports/apidocs  # the Javadoc plugin skips when its output exists
mvn -B -Dstyle.color=never -q javadoc:javadoc
mvn -B -Dstyle.color=never -Pcontainer test
bash ci/gpu-check.sh --dry-run --out target/gpu-check-dry
