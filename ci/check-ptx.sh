#!/usr/bin/env bash
# Checks the committed PTX against the kernel sources and the kernels' resources:
#  1. the PTX and resources.tsv under src/main/resources are what cuda-kernels/ compiles to (when
#     the nvcc release is the one that made them; another release legitimately emits other PTX,
#     and is only reported);
#  2. every PTX file declares an ISA version of at most 8.0 (loadable by CUDA 12.0 drivers), ptxas
#     accepts it at that version for sm_75 and sm_90 (a *_sm90 file: sm_90 only), and rejects it one
#     version lower (so the declared version is the lowest its instructions need);
#  3. every kernel declares __launch_bounds__ (.maxntid);
#  4. ptxas for sm_80 and sm_90 (sm_90 only for a *_sm90 file): no kernel spills registers; prints
#     each kernel's registers.
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
same_release=1
for ptx in "$committed"/*.ptx; do
  name="$(basename "$ptx")"
  if [ "$(grep -m1 'Cuda compilation tools' "$ptx")" != "$(grep -m1 'Cuda compilation tools' "$fresh/$name")" ]; then
    echo "check-ptx: $name was made by another nvcc release; not compared"
    same_release=0
  elif ! cmp -s "$ptx" "$fresh/$name"; then
    echo "check-ptx: $name is stale: run ci/build-ptx.sh and commit the result" >&2
    status=1
  fi
done
if [ "$same_release" -eq 1 ] && ! cmp -s "$committed/resources.tsv" "$fresh/resources.tsv"; then
  echo "check-ptx: resources.tsv is stale: run ci/build-ptx.sh and commit the result" >&2
  diff "$committed/resources.tsv" "$fresh/resources.tsv" >&2 || true
  status=1
fi
for cu in "$root"/cuda-kernels/*.cu; do
  [ -f "$committed/$(basename "$cu" .cu).ptx" ] || { echo "check-ptx: no committed PTX for $cu" >&2; status=1; }
done
lower() {  # the PTX ISA version before $1 among those CUDA 11 and 12 drivers know
  case "$1" in 7.0) echo 6.5 ;; 8.0) echo 7.8 ;; *) awk -v v="$1" 'BEGIN { printf "%.1f", v - 0.1 }' ;; esac
}
for ptx in "$committed"/*.ptx; do
  name="$(basename "$ptx")"
  version="$(sed -n -E 's/^\.version ([0-9]+\.[0-9]+)$/\1/p' "$ptx")"
  if ! awk -v v="$version" 'BEGIN { exit !(v + 0 <= 8.0) }'; then
    echo "check-ptx: $name declares PTX ISA $version; CUDA 12.0 drivers load at most 8.0" >&2
    status=1
  fi
  archs="sm_75 sm_90"
  case "$name" in *_sm90.ptx) archs=sm_90 ;; esac
  for arch in $archs; do
    if ! ptxas -arch="$arch" "$ptx" -o /dev/null; then
      echo "check-ptx: ptxas -arch=$arch rejects $name at its declared ISA $version" >&2
      status=1
    fi
  done
  below="$(lower "$version")"
  if sed -E "s/^\.version .*/.version $below/" "$ptx" | ptxas -arch=sm_90 - -o /dev/null 2>/dev/null; then
    echo "check-ptx: $name declares ISA $version but ptxas accepts it at $below: run ci/build-ptx.sh" >&2
    status=1
  fi
  entries=$(grep -c '^\.visible \.entry' "$ptx")
  bounded=$(grep -c '^\.maxntid' "$ptx")
  if [ "$entries" -ne "$bounded" ]; then
    echo "check-ptx: $name has $entries kernels but $bounded with __launch_bounds__" >&2
    status=1
  fi
done
# The streaming kernels move 16 bytes per load and per store: each holds ld.global(.nc).v4 and
# st.global.v4 (a float4 that leaves as four scalar stores, say, fails here); the reducing ones
# (16-bit statistics partials) load 16 bytes at a time (ld.global(.nc).v4).
streaming="rows:rows_forward_team_vec rows:rows_forward_block_vec rows:rows_backward_fused_vec rows:rows_apply_vec channels:nc_apply_vec channels:nc_apply_backward_vec channels:nc_apply_pack_f16 channels:nc_apply_pack_bf16 channels:nc_apply_backward_pack_f16 channels:nc_apply_backward_pack_bf16 rows:rows_forward_team_vec_f16 rows:rows_forward_block_vec_bf16 rows:rows_backward_fused_vec_bf16 rows:rows_apply_vec_f16 rows:group_backward_fused_vec_bf16 rows_sm90:rows_backward_fused_cluster_vec rows_sm90:rows_backward_fused_cluster_vec_f16"
reducing="stats:columns_welford_partial_vec_f16 stats:columns_sums_partial_vec_bf16 stats:segments_welford_partial_pack_f16 stats:segments_welford_partial_pack_bf16 stats:segments_sums_partial_pack_f16 stats:segments_sums_partial_pack_bf16"
for item in $streaming $reducing; do
  file="${item%%:*}.ptx"
  kernel="${item#*:}"
  body="$(awk -v k="$kernel" '$0 ~ "^\\.visible \\.entry " k "\\(" { on = 1 } on { print } on && /^}/ { exit }' "$committed/$file")"
  [ -n "$body" ] || { echo "check-ptx: no kernel $kernel in $file" >&2; status=1; continue; }
  ops='ld\.global(\.nc)?\.v4 st\.global\.v4'
  [[ " $reducing " == *" $item "* ]] && ops='ld\.global(\.nc)?\.v4'
  for op in $ops; do
    # a here-string, not a pipe: grep -q leaving early would kill echo with SIGPIPE, and pipefail
    # would turn a found access into a failure (it did, now and then)
    if ! grep -Eq "$op" <<< "$body"; then
      echo "check-ptx: streaming kernel $kernel ($file) has no 128-bit ${op%%\\*} access" >&2
      status=1
    fi
  done
done
# The elementwise passes divide only when a thread sets up its index cursors (common.cuh RowCursor:
# 8 divisions each, fewer where they share a divisor), never per element: a division in their
# BATCH-unrolled loop would add BATCH more per site, so more than 12 in a body fails.
for item in channels:nc_apply channels:nc_apply_vec channels:nc_apply_backward channels:nc_apply_backward_vec \
    channels:nc_apply_pack_f16 channels:nc_apply_backward_pack_bf16 rows:rows_apply rows:rows_apply_vec \
    rows:rows_apply_vec_bf16; do
  file="${item%%:*}.ptx"
  kernel="${item#*:}"
  divisions="$(awk -v k="$kernel" '$0 ~ "^\\.visible \\.entry " k "\\(" { on = 1 } on { print } on && /^}/ { exit }' "$committed/$file" \
    | grep -cE '\b(div|rem)\.[su](32|64)' || true)"
  if [ "$divisions" -gt 12 ]; then
    echo "check-ptx: elementwise pass $kernel ($file) has $divisions integer divisions: one per element?" >&2
    status=1
  fi
done
for arch in sm_80 sm_90; do
  for ptx in "$committed"/*.ptx; do
    [[ "$arch" == sm_80 && "$ptx" == *_sm90.ptx ]] && continue
    report="$(ptxas -arch="$arch" -O3 -v "$ptx" -o /dev/null 2>&1)"
    echo "$report" | awk -v arch="$arch" '
      /Compiling entry function/ { match($0, /'\''[^'\'']+'\''/); name = substr($0, RSTART + 1, RLENGTH - 2) }
      /Used [0-9]+ registers/ { match($0, /Used [0-9]+ registers/); printf "%s %-32s %s\n", arch, name, substr($0, RSTART, RLENGTH) }'
    if grep -Eq '[1-9][0-9]* bytes spill (stores|loads)' <<< "$report"; then
      echo "check-ptx: $(basename "$ptx") spills registers on $arch:" >&2
      echo "$report" | grep -B3 -E '[1-9][0-9]* bytes spill' >&2
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "check-ptx: PTX fresh, ISA <= 8.0 and the lowest each file needs, launch bounds on every kernel, 128-bit accesses in the streaming kernels, no division per element in the elementwise passes, no spills on sm_80 and sm_90"
exit "$status"
