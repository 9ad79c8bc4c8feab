#!/usr/bin/env bash
# Checks the committed PTX against the kernel sources and the kernels' resources:
#  1. the PTX under src/main/resources is what cuda-kernels/ compiles to (when the nvcc release
#     is the one that made it; another release legitimately emits other PTX, and is only reported);
#  2. ptxas for sm_80 and sm_90: no kernel spills registers; prints each kernel's registers.
# Skips, saying so, where nvcc or ptxas is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
committed="$root/src/main/resources/dev/jnorm/kernels"
if ! command -v nvcc >/dev/null 2>&1 || ! command -v ptxas >/dev/null 2>&1; then
  echo "check-ptx: skipped (nvcc or ptxas not on the PATH)"
  exit 0
fi
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
bash "$root/ci/build-ptx.sh" "$fresh"
status=0
for ptx in "$committed"/*.ptx; do
  name="$(basename "$ptx")"
  if ! cmp -s "$ptx" "$fresh/$name"; then
    if [ "$(grep -m1 'Cuda compilation tools' "$ptx")" = "$(grep -m1 'Cuda compilation tools' "$fresh/$name")" ]; then
      echo "check-ptx: $name is stale: run ci/build-ptx.sh and commit the result" >&2
      status=1
    else
      echo "check-ptx: $name differs, but was made by another nvcc release; not compared"
    fi
  fi
done
for cu in "$root"/cuda-kernels/*.cu; do
  [ -f "$committed/$(basename "$cu" .cu).ptx" ] || { echo "check-ptx: no committed PTX for $cu" >&2; status=1; }
done
for arch in sm_80 sm_90; do
  for ptx in "$committed"/*.ptx; do
    report="$(ptxas -arch="$arch" -O3 -v "$ptx" -o /dev/null 2>&1)"
    echo "$report" | awk -v arch="$arch" '
      /Compiling entry function/ { match($0, /'\''[^'\'']+'\''/); name = substr($0, RSTART + 1, RLENGTH - 2) }
      /Used [0-9]+ registers/ { match($0, /Used [0-9]+ registers/); printf "%s %-32s %s\n", arch, name, substr($0, RSTART, RLENGTH) }'
    if echo "$report" | grep -Eq '[1-9][0-9]* bytes spill (stores|loads)'; then
      echo "check-ptx: $(basename "$ptx") spills registers on $arch:" >&2
      echo "$report" | grep -B3 -E '[1-9][0-9]* bytes spill' >&2
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "check-ptx: PTX fresh, no spills on sm_80 and sm_90"
exit "$status"
