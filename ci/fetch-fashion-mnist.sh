#!/usr/bin/env bash
# Makes Fashion-MNIST available to `jnorm study small-batch`: nothing to do when Debian's
# dataset-fashion-mnist package is installed (/usr/share/datasets/fashion-mnist); otherwise
# downloads that package from Debian's archive (no root needed) and unpacks its four IDX files
# into data/fashion-mnist, where the study looks next.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
system=/usr/share/datasets/fashion-mnist
target="$root/data/fashion-mnist"
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
complete() {
  for f in $files; do [ -s "$1/$f" ] || return 1; done
}
if complete "$system" || complete "$target"; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "fetch-fashion-mnist: no apt-get here; put Fashion-MNIST's four IDX .gz files in $target" >&2
  exit 1
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-fashion-mnist: downloading Debian's dataset-fashion-mnist package (31 MB)" >&2
(cd "$work" && apt-get download dataset-fashion-mnist >/dev/null 2>"$work/apt.log") || {
  cat "$work/apt.log" >&2
  echo "fetch-fashion-mnist: apt-get download failed; try 'apt-get update' first, or install the package" >&2
  exit 1
}
dpkg-deb -x "$work"/dataset-fashion-mnist_*.deb "$work/unpacked"
mkdir -p "$target"
for f in $files; do cp "$work/unpacked$system/$f" "$target/"; done
echo "fetch-fashion-mnist: unpacked into $target" >&2
