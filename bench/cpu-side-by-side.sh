#!/usr/bin/env bash
# Training speed of the study's network on the CPU, PyTorch and jnorm side by side, on this machine:
# bench/torch_cpu_study.py (PyTorch CPU, --threads as many as the JVM sees), then `jnorm study` on
# the same batch sizes (random-looking synthetic images; the speed does not depend on them), each
# warmed up first. Prints a Markdown table. Usage: bench/cpu-side-by-side.sh [IMAGES] (default 6400).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
images="${1:-6400}"
threads="$(nproc)"
out="$(mktemp -d)"
# the first Python that has PyTorch ($PYTHON, python3, then Debian's python3-torch)
for python in ${PYTHON:-} python3 /usr/bin/python3; do
  "$python" -c "import torch" 2>/dev/null && break
done
"$python" -c "import torch" || { echo "cpu-side-by-side: no Python with PyTorch (apt-get install python3-torch)" >&2; exit 1; }
"$python" "$root/bench/torch_cpu_study.py" --norms batch,group --batch-sizes 32,2 --threads "$threads" \
  --images "$images" --out "$out/torch.json" > /dev/null
"$root/jnorm" study small-batch --synthetic --backend cpu --norms batch,group --batch-sizes 32,2 --seeds 1 \
  --epochs 1 --train-images "$images" --val-images 100 --out "$out/jnorm" > /dev/null 2>&1
"$python" - "$out/torch.json" "$out/jnorm/summary.csv" "$threads" <<'PY'
import csv, json, sys
torch = {(r["norm"], r["batch_size"]): r["images_per_second"] for r in json.load(open(sys.argv[1]))["results"]}
print(f"| norm | batch size | PyTorch CPU ({sys.argv[3]} threads) | jnorm | jnorm / PyTorch |")
print("|---|---|---|---|---|")
for row in csv.DictReader(open(sys.argv[2])):
    t = torch[(row["norm"], int(row["batch_size"]))]
    j = float(row["train_images_per_second"])
    print(f"| {row['norm']} | {row['batch_size']} | {t:,.0f} img/s | {j:,.0f} img/s | {j / t:.2f} |")
PY
rm -rf "$out"
