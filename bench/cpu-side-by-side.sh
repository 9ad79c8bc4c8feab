#!/usr/bin/env bash
# Training speed of the study's network on the CPU, PyTorch and jnorm side by side, on this machine:
# bench/torch_cpu_study.py (PyTorch CPU, --threads as many as the JVM sees), then `jnorm study` on
# the same batch sizes (random-looking synthetic images; the speed does not depend on them), each
# warmed up first; ROUNDS rounds (default 3) of the two in turn, so that a shared machine's slow
# spells fall on both. Prints a Markdown table of each cell's median over the rounds (and the
# range). Usage: bench/cpu-side-by-side.sh [IMAGES] (default 6400); ROUNDS=5 bench/cpu-side-by-side.sh.
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
rounds="${ROUNDS:-3}"
for round in $(seq 1 "$rounds"); do
  "$python" "$root/bench/torch_cpu_study.py" --norms batch,group --batch-sizes 32,2 --threads "$threads" \
    --images "$images" --out "$out/torch-$round.json" > /dev/null
  "$root/jnorm" study small-batch --synthetic --backend cpu --norms batch,group --batch-sizes 32,2 --seeds 1 \
    --epochs 1 --train-images "$images" --val-images 100 --out "$out/jnorm-$round" > /dev/null 2>&1
done
"$python" - "$out" "$rounds" "$threads" <<'PY'
import csv, json, statistics, sys
out, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch, jnorm = {}, {}
for r in range(1, rounds + 1):
    for row in json.load(open(f"{out}/torch-{r}.json"))["results"]:
        torch.setdefault((row["norm"], row["batch_size"]), []).append(row["images_per_second"])
    for row in csv.DictReader(open(f"{out}/jnorm-{r}/summary.csv")):
        jnorm.setdefault((row["norm"], int(row["batch_size"])), []).append(float(row["train_images_per_second"]))
def cell(v):
    return f"{statistics.median(v):,.0f} img/s ({min(v):,.0f}–{max(v):,.0f})"
print(f"Medians of {rounds} interleaved rounds (range in brackets)\n")
print(f"| norm | batch size | PyTorch CPU ({threads} threads) | jnorm | jnorm / PyTorch |")
print("|---|---|---|---|---|")
for key, j in jnorm.items():
    t = torch[key]
    print(f"| {key[0]} | {key[1]} | {cell(t)} | {cell(j)} | {statistics.median(j) / statistics.median(t):.2f} |")
PY
rm -rf "$out"
