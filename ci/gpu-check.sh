#!/usr/bin/env bash
# The one call to make on a GPU runner (an H100/H200 with CUDA's tools, compute-sanitizer and
# PyTorch, but no Java), within 10 minutes:
#   device     nvidia-smi and the driver
#   suite      the GPU suite (JUnit tag gpu) with the bundle's Java runtime
#   memcheck, racecheck, synccheck
#              compute-sanitizer over the suite's fast cases (-Djnorm.contract.cases=fast, tag large left out)
#   bench      jnorm bench --backend cuda over the design's shape suites, float32
#   torch      bench/torch_baseline.py on the same GPU
#   compare    the two side by side, also as a Markdown table for docs/performance.md
#   bench16, torch16, compare16
#              the same for float16 and bfloat16 storage, in the budget left
#   report     gpu-report.md
# and prints a summary table last. Each step has a time limit, within an overall budget.
#
# It runs from a bundle built beforehand on a machine with a JDK 17 (ci/gpu-bundle.sh: a jlink
# runtime, the jars and tests, at most 64 MiB), carried to the runner; where the bundle is missing
# and a JDK is present it builds one.
#
# Usage: ci/gpu-check.sh [--dry-run] [--bundle DIR] [--out DIR] [--budget SECONDS]
#   --bundle   the bundle (default: the folder of this script when it is the bundle's copy, else
#              target/gpu-bundle)
#   --out      where gpu-report.md, performance-measured.md (and -16bit.md), comparison.txt, summary.txt and
#              logs.tar.gz (everything else: JUnit XML, sanitizer logs, bench.json, torch.json) go
#              (default target/gpu-check)
#   --budget   seconds for all the steps (default 540)
#   --dry-run  for a machine without a GPU: builds the bundle afresh, checks its size, and runs every
#              step that needs no GPU (the suite runs and skips itself, the benchmark runs on the CPU,
#              the report is written from a sample comparison), so that the real run works.
# Exit status 0 when every step that ran passed: on a GPU, at least one GPU test passed and none
# failed, and each sanitizer found no error.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -x "$here/runtime/bin/java" ]; then
  root="$here"; bundle="$here"  # the bundle's own copy
else
  root="$(cd "$here/.." && pwd)"; bundle="$root/target/gpu-bundle"
fi
out="$root/target/gpu-check"
budget=540
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --bundle) bundle="$(cd "$2" && pwd)"; shift ;;
    --out) out="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    *) echo "gpu-check: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
status=0
: > "$work/steps.tsv"

# step NAME LIMIT COMMAND...: runs COMMAND with at most LIMIT seconds (less if the budget is nearly
# spent, keeping 30 s for the report), its output in NAME.log, and records the outcome.
step() {
  local name="$1" limit="$2"; shift 2
  local left=$((budget - (SECONDS - start) - 30))
  [ "$left" -lt "$limit" ] && limit="$left"
  if [ "$limit" -le 5 ]; then
    record "$name" "skipped" 0 "out of time"
    return 1
  fi
  echo "gpu-check: $name (at most ${limit}s)" >&2
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" > "$work/$name.log" 2>&1
  rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    record "$name" "timed out" $((SECONDS - t0)) "after ${limit}s"
  elif [ "$rc" -ne 0 ]; then
    record "$name" "failed" $((SECONDS - t0)) "exit $rc; see $name.log"
  else
    record "$name" "passed" $((SECONDS - t0)) ""
  fi
  return "$rc"
}

record() {  # NAME OUTCOME SECONDS NOTE
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$work/steps.tsv"
  case "$2" in failed|"timed out") status=1 ;; esac
}

# The bundle: built afresh on a dry run, else where missing and a JDK is here.
if [ "$dry" -eq 1 ] || [ ! -x "$bundle/runtime/bin/java" ]; then
  if ! command -v javac >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    echo "gpu-check: no bundle at $bundle and no JDK and Maven here to build one: run ci/gpu-bundle.sh on a" \
      "machine with a JDK 17 and carry target/gpu-bundle here" >&2
    exit 2
  fi
  step bundle 300 bash "$root/ci/gpu-bundle.sh" "$bundle" || { cat "$work/bundle.log" >&2; exit 1; }
fi
size=$(du -sk "$bundle" | cut -f1)
if [ "$size" -gt $((64 * 1024)) ]; then
  record "bundle size" "failed" 0 "$((size / 1024)) MiB, over 64"
else
  record "bundle size" "passed" 0 "$((size / 1024)) MiB"
fi
java="$bundle/runtime/bin/java"
classpath="$bundle/lib/jnorm.jar:$bundle/lib/jnorm-tests.jar:$bundle/lib/nccl-natives.jar"
# NCCL (libnccl.so.2) and CUDA 12's runtime for NcclGpuTest, where PyTorch's packages bring them
# (nvidia/nccl/lib, nvidia/cuda_runtime/lib); without them that test skips itself, saying why.
nvidia_libs="$(python3 -c 'import glob, os, site
print(":".join(d for b in site.getsitepackages() for n in ("nccl", "cuda_runtime")
               for d in glob.glob(os.path.join(b, "nvidia", n, "lib"))))' 2>/dev/null || true)"
[ -z "$nvidia_libs" ] || export LD_LIBRARY_PATH="$nvidia_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
commit="$(cat "$bundle/commit" 2>/dev/null || echo unknown)"
suite=("$java" -jar "$bundle/lib/junit-console.jar" execute --class-path "$classpath" --select-package dev.jnorm
  --include-tag gpu --disable-banner --details=summary)

# device
if [ "$dry" -eq 1 ]; then
  record device "skipped" 0 "dry run"
elif command -v nvidia-smi >/dev/null 2>&1; then
  step device 30 bash -c "nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
    --format=csv,noheader > '$work/device.txt'"
  cat "$work/device.log" >&2
else
  record device "failed" 0 "no nvidia-smi: is this a GPU runner?"
fi

# suite: on a GPU it must pass tests; on a dry run every test skips itself (no device)
step suite 200 "${suite[@]}" --reports-dir "$work/suite"
passed=$(sed -n -E 's/^\[ *([0-9]+) tests successful *\]/\1/p' "$work/suite.log" | tail -n 1)
found=$(sed -n -E 's/^\[ *([0-9]+) tests found *\]/\1/p' "$work/suite.log" | tail -n 1)
if [ "$dry" -eq 1 ]; then
  [ "${found:-0}" -gt 0 ] || record "suite tests" "failed" 0 "the launcher found no GPU test"
elif [ "${passed:-0}" -eq 0 ]; then
  record "suite tests" "failed" 0 "no GPU test passed: is a CUDA device usable? (see suite.log)"
fi
grep -E '^\[ *[0-9]+ tests (found|successful|failed|skipped)' "$work/suite.log" >&2

# compute-sanitizer over the fast cases
for tool in memcheck racecheck synccheck; do
  if [ "$dry" -eq 1 ]; then
    echo "dry run" > "$work/$tool.skipped"
    record "$tool" "skipped" 0 "dry run"
  elif ! command -v compute-sanitizer >/dev/null 2>&1; then
    echo "compute-sanitizer not found on this host" > "$work/$tool.skipped"
    record "$tool" "skipped" 0 "compute-sanitizer not found"
  else
    limit=75
    [ "$tool" = synccheck ] && limit=60
    step "$tool" "$limit" compute-sanitizer --tool "$tool" --target-processes all --log-file "$work/$tool.log" \
      "$java" -Djnorm.contract.cases=fast -jar "$bundle/lib/junit-console.jar" execute --class-path "$classpath" \
      --select-package dev.jnorm --include-tag gpu --exclude-tag large --disable-banner --details=summary \
      --reports-dir "$work/$tool"
    grep -q "ERROR SUMMARY: 0 errors" "$work/$tool.log" 2>/dev/null \
      || record "$tool errors" "failed" 0 "$(grep -o 'ERROR SUMMARY: [0-9]* errors*' "$work/$tool.log" | tail -n 1)"
  fi
done

# the benchmark, PyTorch's baseline, and the comparison: float32 first, then the 16-bit suites
# (float16 and bfloat16 storage, float32 parameters) in what budget is left, in files of their own,
# so that the float32 comparison stands whatever happens to the 16-bit one.
# versus NAME DTYPES MARKDOWN BENCH_LIMIT TORCH_LIMIT
versus() {
  local name="$1" dtypes="$2" markdown="$3" bench_limit="$4" torch_limit="$5"
  local results="$work/$name" torch_json="$work/torch${name#bench}.json"
  mkdir -p "$results"
  if [ "$dry" -eq 1 ]; then
    step "$name" "$bench_limit" "$java" -jar "$bundle/lib/jnorm.jar" bench --backend cpu --suite rows --norm layer \
      --dtype "$dtypes" --runs 20 --warmup 1 --out "$results"
    if python3 -c 'import torch' 2>/dev/null; then
      step "torch${name#bench}" "$torch_limit" python3 "$bundle/bench/torch_baseline.py" --device cpu --suite rows \
        --norm layer --dtype "$dtypes" --runs 20 --warmup 1 --out "$torch_json"
    elif [ -f "$results/bench.json" ]; then
      step "torch${name#bench}" 30 python3 -m py_compile "$bundle/bench/torch_baseline.py"
      # A sample of PyTorch's results, made from jnorm's (twice as slow), for the comparison and the report.
      python3 - "$results/bench.json" "$torch_json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
report["device"] = "a sample (PyTorch is not installed here)"
for row in report["rows"]:
    row["impl"] = "torch-eager"
    row["us"] *= 2
json.dump(report, open(sys.argv[2], "w"))
PY
      record "torch${name#bench} sample" "passed" 0 "PyTorch not installed: script compiled, sample results"
    fi
  else
    step "$name" "$bench_limit" "$java" -jar "$bundle/lib/jnorm.jar" bench --backend cuda --dtype "$dtypes" \
      --runs 20 --warmup 3 --out "$results"
    if python3 -c 'import torch' 2>/dev/null; then
      step "torch${name#bench}" "$torch_limit" python3 "$bundle/bench/torch_baseline.py" --dtype "$dtypes" \
        --runs 20 --warmup 3 --out "$torch_json"
    else
      record "torch${name#bench}" "skipped" 0 "PyTorch not installed here"
    fi
  fi
  if [ -f "$results/bench.json" ] && [ -f "$torch_json" ]; then
    step "compare${name#bench}" 30 "$java" -jar "$bundle/lib/jnorm.jar" bench --results "$results/bench.json" \
      --compare "$torch_json" --markdown "$out/$markdown"
    { echo "$dtypes:"; cat "$work/compare${name#bench}.log"; echo; } >> "$work/comparison.txt"
  else
    record "compare${name#bench}" "skipped" 0 "no $dtypes benchmark results to compare"
  fi
}
rm -f "$work/comparison.txt"
versus bench float32 performance-measured.md 120 90
versus bench16 float16,bfloat16 performance-measured-16bit.md 120 90

# the report, the files that come back, and the summary
command="ci/gpu-check.sh$([ "$dry" -eq 1 ] && echo " --dry-run")"
"$java" -cp "$classpath" dev.jnorm.testing.GpuReport "$work" "$commit" "$command" "$out/gpu-report.md" \
  > "$work/report.log" 2>&1 || record report "failed" 0 "see report.log"
[ -f "$work/comparison.txt" ] && cp "$work/comparison.txt" "$out/"
tar czf "$out/logs.tar.gz" -C "$work" --exclude=bundle.log . 2>/dev/null
{
  printf 'gpu-check%s on %s, commit %s, %ss\n' "$([ "$dry" -eq 1 ] && echo " (dry run)")" \
    "$(cat "$work/device.txt" 2>/dev/null || echo "no GPU")" "$commit" "$((SECONDS - start))"
  { printf 'step\toutcome\tseconds\tnote\n'; cat "$work/steps.tsv"; } | column -t -s $'\t'
  [ -f "$work/comparison.txt" ] && grep -E 'jnorm at least as fast' "$work/comparison.txt"
  echo "$([ "$status" -eq 0 ] && echo PASSED || echo FAILED); files in $out"
} | tee "$out/summary.txt"
exit "$status"
