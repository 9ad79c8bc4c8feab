#!/usr/bin/env bash
# Compiles every cuda-kernels/*.cu to PTX (compute_75, -O3, -lineinfo, no fast math) into
# src/main/resources/dev/jnorm/kernels, or into the folder given. The PTX is committed so that a
# build without nvcc works. So that the output does not depend on where the repository is checked
# out, source paths in the PTX's .file lines are cut to file names, and the path hash nvcc puts in
# the debug strings of internal names (_INTERNAL_<8 hex digits>_) is zeroed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/src/main/resources/dev/jnorm/kernels}"
command -v nvcc >/dev/null 2>&1 || { echo "build-ptx: nvcc is not on the PATH" >&2; exit 1; }
mkdir -p "$out"
for cu in "$root"/cuda-kernels/*.cu; do
  name="$(basename "$cu" .cu)"
  nvcc -ptx -arch=compute_75 -O3 -lineinfo -o "$out/$name.ptx.tmp" "$cu"
  sed -E 's#^(\s*\.file\s+[0-9]+\s+")[^"]*/([^"/]*")#\1\2#' "$out/$name.ptx.tmp" \
    | perl -pe 's/(95,73,78,84,69,82,78,65,76,95,)((?:\d+,){8})/$1 . "48," x 8/ge' > "$out/$name.ptx"
  rm "$out/$name.ptx.tmp"
done
