#!/usr/bin/env bash
# The data axis in one process against the data axis over Open MPI, on this machine:
#   1. all-reduce of 2 ranks at 1, 16 and 64 MB: the in-process ring (two simulated devices)
#      against MPI at np=2 from a float[] (palm4j's path, staging copies included) and MPI alone
#      on its native staging buffer;
#   2. training tokens/s of configs/small.yaml with parallel.data=2: in one process against
#      mpirun -np 2 with parallel.backend=mpi (same steps, same threads: one per data rank).
# The two sides alternate, round by round (a shared machine is noisy); it prints every round
# and the medians. Needs Open MPI (apt-get install openmpi-bin libopenmpi-dev) and python3.
# Usage: bench/mpi.sh [ROUNDS] [STEPS]      defaults: 5 rounds, 12 training steps (steps 4.. timed)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
steps=${2:-12}
command -v mpirun >/dev/null || { echo "bench/mpi.sh: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 2; }
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
./palm --version >/dev/null # builds palm-cli/target/palm.jar when needed
mpirun=(mpirun -np 2)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
# what ./palm sets under mpirun, for the java runs below that do not go through it
export MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=67108864
bench=("$java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -cp palm-cli/target/palm.jar
       dev.palm4j.train.parallel.CollectivesBench)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "## all-reduce, 2 ranks: median ms and GB/s (buffer bytes / time) per round"
for r in $(seq "$rounds"); do
  "${bench[@]}" local 1 16 64 2>/dev/null | grep '^allreduce' | tee -a "$tmp/allreduce"
  "${mpirun[@]}" "${bench[@]}" mpi 1 16 64 2>/dev/null | grep '^allreduce' | tee -a "$tmp/allreduce"
done

echo
echo "## configs/small.yaml, parallel.data=2, $steps steps: median tokens/s of steps 4..$steps per round"
train=(train --config configs/small.yaml --steps "$steps" --set schedule.total_steps=400 --set train.eval_interval=0
       --set train.sample_interval=0 --set train.checkpoint_interval=0 --set parallel.data=2 --peak-gflops 180)
for r in $(seq "$rounds"); do
  ./palm "${train[@]}" --run-dir "$tmp/local-$r" 2>/dev/null
  "${mpirun[@]}" ./palm "${train[@]}" --set parallel.backend=mpi --run-dir "$tmp/mpi-$r" 2>/dev/null
  for side in local mpi; do
    python3 - "$tmp/$side-$r/metrics.jsonl" "$side" <<'EOF' | tee -a "$tmp/train"
import json, statistics, sys
tps = [m["tokens_per_s"] for m in map(json.loads, open(sys.argv[1])) if "tokens_per_s" in m and m["step"] >= 4]
print(f"train {sys.argv[2]} {statistics.median(tps):.0f} tok/s")
EOF
  done
done

echo
echo "## medians over $rounds rounds"
python3 - "$tmp/allreduce" "$tmp/train" <<'EOF'
import collections, statistics, sys
ar = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()  # allreduce BACKEND PATH MB "MB" MS "ms" GBPS "GB/s"
    ar[(f[3], f[1], f[2])].append((float(f[5]), float(f[7])))
print("| size | in-process ring | MPI from float[] | MPI native buffer | MPI float[] / in-process |")
print("|---|---|---|---|---|")
for mb in sorted({k[0] for k in ar}, key=float):
    med = {p: (statistics.median(x[0] for x in ar[(mb,) + p]), statistics.median(x[1] for x in ar[(mb,) + p]))
           for p in [("local", "float[]"), ("mpi", "float[]"), ("mpi", "native")]}
    cell = lambda p: f"{med[p][1]:.2f} GB/s ({med[p][0]:.2f} ms)"
    print(f"| {mb} MB | {cell(('local', 'float[]'))} | {cell(('mpi', 'float[]'))} | {cell(('mpi', 'native'))} | "
          f"{med[('mpi', 'float[]')][1] / med[('local', 'float[]')][1]:.2f}x |")
tr = collections.defaultdict(list)
for line in open(sys.argv[2]):
    f = line.split()
    tr[f[1]].append(float(f[2]))
loc, mpi = statistics.median(tr["local"]), statistics.median(tr["mpi"])
print()
print(f"training: in-process {loc:.0f} tok/s, MPI {mpi:.0f} tok/s: MPI / in-process {mpi / loc:.2f}x"
      f" (rounds: in-process {sorted(tr['local'])}, MPI {sorted(tr['mpi'])})")
EOF
