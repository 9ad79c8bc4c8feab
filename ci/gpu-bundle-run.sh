#!/usr/bin/env bash
# run.sh of the GPU bundle (made by ci/gpu-bundle.sh): runs jnorm's GPU test suite (JUnit tag gpu)
# on CUDA device 0 with the bundled Java runtime, then again under compute-sanitizer memcheck where
# it is installed (leaving out the tag large: 2^31-element tensors), and writes the report to
# REPORT.md (default: report.md next to this script). Reports and logs go to reports/.
# Exit status: 0 when GPU tests ran and passed, and under memcheck (where it ran) passed again with
# no error found; a run where every test skipped (no usable device) fails.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
report="${1:-$here/report.md}"
java="$here/runtime/bin/java"
classpath="$here/lib/jnorm.jar:$here/lib/jnorm-tests.jar"
reports="$here/reports"
rm -rf "$reports"
mkdir -p "$reports"

launcher=("$java" -jar "$here/lib/junit-console.jar" execute --class-path "$classpath" --select-package dev.jnorm
  --include-tag gpu --disable-banner)

command="run.sh: JUnit console launcher, --include-tag gpu"
"${launcher[@]}" --reports-dir "$reports/suite" --details=tree 2>&1 | tee "$reports/suite.log"
status=${PIPESTATUS[0]}
if ! grep -qE '^\[ *[1-9][0-9]* tests successful' "$reports/suite.log"; then
  echo "run.sh: no GPU test passed: is a CUDA device usable here? (see the skip reason above)" >&2
  status=1
fi

if command -v compute-sanitizer >/dev/null 2>&1; then
  command="$command; then compute-sanitizer --tool memcheck over the same, --exclude-tag large"
  compute-sanitizer --tool memcheck --target-processes all --log-file "$reports/memcheck.log" \
    "${launcher[@]}" --exclude-tag large --reports-dir "$reports/memcheck" --details=summary \
    > "$reports/memcheck-suite.log" 2>&1 || status=1
  grep -q "ERROR SUMMARY: 0 errors" "$reports/memcheck.log" || status=1
fi

"$java" -cp "$classpath" dev.jnorm.testing.GpuReport "$reports" "$(cat "$here/commit")" "$command" "$report" \
  || status=1
exit "$status"
