#!/usr/bin/env bash
# palm4j on the default JDK 17 beside JDK 25 (Temurin), interleaved in one script: each run starts
# `palm bench kernels` (FMA peak, GEMM, attention) and `palm bench train` on the anchor configs
# once per JDK, the order alternating from run to run; medians over --runs, and JDK 25's speed
# as a multiple of JDK 17's. The floors are set on JDK 17 (../shared/DESIGN.md); this is the
# "report JDK 25 beside it".
#   JDK 17: $JDK17_HOME, else /usr/lib/jvm/java-17-openjdk-amd64
#   JDK 25: $JDK25_HOME, else the first /usr/lib/jvm/*25* with a bin/java
# Usage: bench/jdk17-vs-25.sh [--runs N] [--configs S,M] [--sizes 1024,2048] [--seq-lens 512,2048]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 configs=S,M sizes=1024,2048 seqlens=512,1024,2048
usage() { echo "usage: bench/jdk17-vs-25.sh [--runs N] [--configs S,M] [--sizes N,...] [--seq-lens T,...]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --runs) runs=$2 ;;
    --configs) configs=$2 ;;
    --sizes) sizes=$2 ;;
    --seq-lens) seqlens=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "jdk17-vs-25: --runs takes a whole number >= 1, not '$runs'" >&2; exit 2; }
jdk17=${JDK17_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
jdk25=${JDK25_HOME:-}
if [ -z "$jdk25" ]; then
  for d in /usr/lib/jvm/*25*; do [ -x "$d/bin/java" ] && { jdk25=$d; break; }; done
fi
for j in "$jdk17" "$jdk25"; do
  [ -n "$j" ] && [ -x "$j/bin/java" ] ||
    { echo "jdk17-vs-25: no JDK at '${j}' (set JDK17_HOME / JDK25_HOME to a JDK's directory)" >&2; exit 2; }
done
py=/usr/bin/python3
out=$(mktemp -d /tmp/palm-jdks-XXXX)
JAVA_HOME=$jdk17 ./palm --version >/dev/null 2>&1 # build once with JDK 17, outside the timed runs
echo "# JDK 17: $("$jdk17/bin/java" -version 2>&1 | head -1); JDK 25: $("$jdk25/bin/java" -version 2>&1 | head -1); results in $out"
for r in $(seq 1 "$runs"); do
  order="17 25"; [ $((r % 2)) = 0 ] && order="25 17"
  for v in $order; do
    home=$jdk17; [ "$v" = 25 ] && home=$jdk25
    JAVA_HOME=$home ./palm bench kernels --sizes "$sizes" --seq-lens "$seqlens" --samples 5 --no-other-width --json \
      2>/dev/null | tail -1 > "$out/kernels-$v-$r.json"
    for c in ${configs//,/ }; do
      lc=$(echo "$c" | tr 'SM' 'sm'); steps=10; [ "$c" = M ] && steps=5
      JAVA_HOME=$home ./palm bench train --config "configs/anchor-$lc.yaml" --steps "$steps" --json 2>/dev/null |
        tail -1 > "$out/$c-$v-$r.json"
    done
    echo "run $r JDK $v done" >&2
  done
done
$py - "$out" "$configs" <<'PY'
import json, statistics, sys, glob, os
out, configs = sys.argv[1], sys.argv[2].split(",")
def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, pattern)))]
kernels = {v: load(f"kernels-{v}-*.json") for v in ("17", "25")}  # one per run, in run order
rows = []  # (what, unit, higher_is_better, values for 17, values for 25)
def add(what, unit, higher, get):
    rows.append((what, unit, higher, [get(j) for j in kernels["17"]], [get(j) for j in kernels["25"]]))
k17 = kernels["17"]
for t in k17[0]["peak_gflops"]:  # "1_threads", "2_threads"
    n = int(t.split("_")[0])
    add(f"FMA peak, {n} thread{'s' if n > 1 else ''}", "GFLOP/s", True, lambda j, t=t: j["peak_gflops"][t])
for p in k17[0]["gemm"]:
    n, t = p["n"], p["threads"]
    add(f"GEMM {n}, {t} thread{'s' if t > 1 else ''}", "GFLOP/s", True,
        lambda j, n=n, t=t: next(q["gflops"] for q in j["gemm"] if q["n"] == n and q["threads"] == t))
for a in k17[0]["attention"]:
    T = a["T"]
    add(f"attention fwd+bwd, T={T}", "ms", False, lambda j, T=T: next(q["train_ms"] for q in j["attention"] if q["T"] == T))
for c in configs:
    vals = {v: [j["tokens_per_s"] for j in load(f"{c}-{v}-*.json")] for v in ("17", "25")}
    rows.append((f"anchor {c} training step", "tokens/s", True, vals["17"], vals["25"]))
print("| measure | JDK 17 (median) | JDK 25 (median) | JDK 25 speed / JDK 17 (median of per-run ratios) |")
print("|---|---|---|---|")
for what, unit, higher, a, b in rows:
    ratios = [(y / x if higher else x / y) for x, y in zip(a, b)]
    print(f"| {what} | {statistics.median(a):.1f} {unit} | {statistics.median(b):.1f} {unit} | "
          f"{statistics.median(ratios):.2f}x ({', '.join(f'{q:.2f}' for q in ratios)}) |")
for v in ("17", "25"):
    js = [j for c in configs for j in load(f"{c}-{v}-*.json")]
    boxed = [round(j["allocated_mb_per_step"], 1) for j in js]
    print(f"JDK {v}: allocated MB per training step {boxed}; jit_hints {[j['jit_hints'] for j in js]}")
PY
