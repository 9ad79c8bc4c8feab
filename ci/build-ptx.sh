#!/usr/bin/env bash
# Compiles every cuda-kernels/*.cu to PTX (compute_75, -O3, -lineinfo, no fast math; a *_sm90.cu,
# whose kernels use thread-block clusters, for compute_90 and loaded only on such devices) into
# src/main/resources/dev/jnorm/kernels, or into the folder given, and writes resources.tsv there:
# each kernel's registers and static shared memory as ptxas -arch=sm_90 assigns them, and its
# __launch_bounds__ (the kernel emulator refuses launches a GPU would refuse by this table).
#
# The PTX is committed so that a build without nvcc works, and made loadable by older drivers:
#  - each file declares the lowest PTX ISA version (7.0 to 8.0; sm_90 needs 7.8) that ptxas accepts it at, so CUDA
#    12 drivers (and CUDA 11 ones, for ISA 7.x) load it; nvcc 13 itself declares 9.0, which only
#    R580+ drivers load. ptxas checks every feature against the declared version.
#  - nvcc 13's "used_bytes_mask" pragmas (load hints that need ISA 8.3) are dropped.
#  - so that the output does not depend on where the repository is checked out, source paths in
#    .file lines are cut to file names, and the path hash nvcc puts in the debug strings of
#    internal names (_INTERNAL_<8 hex digits>_) is zeroed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/src/main/resources/dev/jnorm/kernels}"
command -v nvcc >/dev/null 2>&1 || { echo "build-ptx: nvcc is not on the PATH" >&2; exit 1; }
command -v ptxas >/dev/null 2>&1 || { echo "build-ptx: ptxas is not on the PATH" >&2; exit 1; }
versions="7.0 7.1 7.2 7.3 7.4 7.5 7.6 7.7 7.8 8.0"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for cu in "$root"/cuda-kernels/*.cu; do
  name="$(basename "$cu" .cu)"
  arch=compute_75
  targets="sm_75 sm_90"
  case "$name" in *_sm90) arch=compute_90 targets=sm_90 ;; esac
  nvcc -ptx -arch=$arch -O3 -lineinfo -o "$tmp/$name.nvcc.ptx" "$cu"
  sed -E -e 's#^(\s*\.file\s+[0-9]+\s+")[^"]*/([^"/]*")#\1\2#' -e '/^\s*\.pragma "used_bytes_mask [0-9]+";$/d' \
    "$tmp/$name.nvcc.ptx" | perl -pe 's/(95,73,78,84,69,82,78,65,76,95,)((?:\d+,){8})/$1 . "48," x 8/ge' \
    > "$tmp/$name.ptx"
  chosen=""
  for v in $versions; do
    sed -E "s/^\.version [0-9]+\.[0-9]+$/.version $v/" "$tmp/$name.ptx" > "$tmp/$name.try.ptx"
    accepted=1
    for target in $targets; do
      ptxas -arch=$target "$tmp/$name.try.ptx" -o /dev/null 2>/dev/null || accepted=0
    done
    if [ "$accepted" -eq 1 ]; then
      chosen="$v"
      break
    fi
  done
  if [ -z "$chosen" ]; then
    echo "build-ptx: $name.ptx needs a PTX ISA newer than 8.0 (CUDA 12.0 drivers); ptxas says:" >&2
    sed -E "s/^\.version [0-9]+\.[0-9]+$/.version 8.0/" "$tmp/$name.ptx" > "$tmp/$name.try.ptx"
    ptxas -arch=sm_90 "$tmp/$name.try.ptx" -o /dev/null >&2 || true
    exit 1
  fi
  mv "$tmp/$name.try.ptx" "$out/$name.ptx"
done
{
  printf '# kernel\tregisters\tstatic_shared_bytes\tmax_threads\n'
  printf '# ptxas -arch=sm_90 -O3 on the committed PTX (made by ci/build-ptx.sh); max_threads from __launch_bounds__\n'
  for ptx in "$out"/*.ptx; do
    ptxas -arch=sm_90 -O3 -v "$ptx" -o /dev/null 2>&1 | awk '
      /Compiling entry function/ { match($0, /'\''[^'\'']+'\''/); name = substr($0, RSTART + 1, RLENGTH - 2) }
      /Used [0-9]+ registers/ {
        match($0, /Used [0-9]+ registers/); regs = substr($0, RSTART + 5, RLENGTH - 15)
        smem = 0; if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11)
        print name "\t" regs "\t" smem }' > "$tmp/usage"
    awk '/^\.visible \.entry/ { match($0, /entry [A-Za-z0-9_]+/); name = substr($0, RSTART + 6, RLENGTH - 6) }
         /^\.maxntid/ { gsub(",", ""); print name "\t" $2 }' "$ptx" > "$tmp/bounds"
    awk 'NR == FNR { bound[$1] = $2; next } { print $0 "\t" (($1 in bound) ? bound[$1] : 1024) }' \
      "$tmp/bounds" "$tmp/usage"
  done | sort
} > "$out/resources.tsv"
