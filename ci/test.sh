#!/usr/bin/env bash
# The README's test command: the PTX check (where nvcc is present), then the whole suite on the
# CPU (the CUDA backend's tests on the kernel emulator; those that need a real GPU skip themselves,
# printing why), then the container test (which skips itself, saying why, without a Docker engine
# with the NVIDIA runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/check-ptx.sh
mvn -B -Dstyle.color=never verify
mvn -B -Dstyle.color=never -Pcontainer test
