#!/usr/bin/env bash
# Runs jnorm's GPU test suite on this CUDA host (which has a JDK 17 and Maven): builds the GPU
# bundle (ci/gpu-bundle.sh) and runs it, writing docs/gpu-report.md. Hosts without a JDK take the
# bundle instead: build it elsewhere, copy it over, run its run.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/ci/gpu-bundle.sh" "$root/target/gpu-bundle"
exec "$root/target/gpu-bundle/run.sh" "$root/docs/gpu-report.md"
