#!/usr/bin/env bash
# The README's test command: the whole suite, on the CPU. GPU tests skip themselves (with the
# reason) where no CUDA device is usable.
set -euo pipefail
cd "$(dirname "$0")/.."
exec mvn -B -Dstyle.color=never verify
