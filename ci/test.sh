#!/usr/bin/env bash
# The README's test command: the PTX check (where nvcc is present), then the whole suite on the
# CPU. The CUDA backend's tests run on the kernel emulator; the tests that need a real GPU skip
# themselves, printing why, where none is usable.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/check-ptx.sh
exec mvn -B -Dstyle.color=never verify
