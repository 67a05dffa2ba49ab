#!/usr/bin/env bash
# palm4j's training throughput beside the PyTorch anchor (../shared/anchors/torch_palm.py) on the
# same shapes, interleaved in one script, medians over --runs separate processes each.
#   PyTorch set-ups (../shared/anchors/README.md): default-unset (as installed, OpenBLAS free to
#   pick its kernel) and tuned-unset (tcmalloc + OpenMP OpenBLAS); both with 2 threads.
#   palm4j: palm bench train on configs/anchor-s.yaml and anchor-m.yaml (quiet steps only).
# Needs Debian's python3-torch python3-threadpoolctl libopenblas0-pthread libopenblas0-openmp
# libtcmalloc-minimal4 (the script says so when they are missing).
# Usage: bench/compare-torch.sh [--runs N] [--configs S,M]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 configs=S,M
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    *) echo "usage: bench/compare-torch.sh [--runs N] [--configs S,M]" >&2; exit 2 ;;
  esac
done
anchors=../shared/anchors
py=/usr/bin/python3
[ -f "$anchors/torch_palm.py" ] || { echo "compare-torch: $anchors/torch_palm.py not found" >&2; exit 2; }
$py -c 'import torch, threadpoolctl' 2>/dev/null || {
  echo "compare-torch: PyTorch is missing: apt-get install -y python3-torch python3-threadpoolctl libopenblas0-pthread libopenblas0-openmp libtcmalloc-minimal4" >&2
  exit 2; }
out=$(mktemp -d /tmp/palm-compare-XXXX)
./palm --version >/dev/null 2>&1 # build once, outside the timed runs
peak=$(./palm bench peak --json 2>/dev/null | tail -1 | $py -c 'import json,sys; print(json.load(sys.stdin)["peak_gflops"])')
echo "# FMA peak (palm bench peak, 2 threads): $peak GFLOP/s; JDK $(java -version 2>&1 | head -1); results in $out"
tc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ob=/usr/lib/x86_64-linux-gnu/openblas-openmp
for r in $(seq 1 "$runs"); do
  for c in ${configs//,/ }; do
    lc=$(echo "$c" | tr 'SM' 'sm'); steps=10; [ "$c" = M ] && steps=5
    ./palm bench train --config "configs/anchor-$lc.yaml" --steps "$steps" --json 2>/dev/null | tail -1 > "$out/$c-palm4j-$r.json"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py "$anchors/torch_palm.py" --preset "$c" --threads 2 --steps "$steps" \
      --peak-gflops "$peak" --json 2>/dev/null | tail -1 > "$out/$c-torch-default-unset-$r.json"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_PRELOAD=$tc LD_LIBRARY_PATH=$ob $py "$anchors/torch_palm.py" --preset "$c" \
      --threads 2 --steps "$steps" --peak-gflops "$peak" --json 2>/dev/null | tail -1 > "$out/$c-torch-tuned-unset-$r.json"
    echo "run $r $c done" >&2
  done
done
$py - "$out" "$configs" "$peak" <<'PY'
import json, statistics, sys, glob, os
out, configs, peak = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
print("| config | palm4j tokens/s (MFU) | PyTorch default-unset | PyTorch tuned-unset | palm4j / default | palm4j / tuned |")
print("|---|---|---|---|---|---|")
for c in configs:
    med = lambda name: statistics.median(json.load(open(f))["tokens_per_s"] for f in glob.glob(os.path.join(out, f"{c}-{name}-*.json")))
    p, d, t = med("palm4j"), med("torch-default-unset"), med("torch-tuned-unset")
    fpt = json.load(open(glob.glob(os.path.join(out, f"{c}-torch-tuned-unset-*.json"))[0]))["flops_per_token"]
    mfu = lambda tps: 100 * fpt * tps / (peak * 1e9)
    print(f"| {c} | {p:.0f} ({mfu(p):.1f}%) | {d:.0f} ({mfu(d):.1f}%) | {t:.0f} ({mfu(t):.1f}%) | {p/d:.2f}x | {p/t:.2f}x |")
PY
