#!/usr/bin/env bash
# palm4j's GEMM beside ND4J's (OpenBLAS), square sizes (or, with --training, the six GEMMs of an
# anchor-S training step; with --training-m, the nine of an anchor-M step), 1 and 2 threads,
# medians of quiet samples. With --neighbour: each GEMM on one thread while the other core idles,
# runs FMAs, streams an 8 MB or a 256 MB array, or runs palm4j's GEMM (what a busy core costs).
# Runs twice in separate JVMs, because OpenBLAS reads OPENBLAS_CORETYPE when it loads:
#   1. with the environment as it is;
#   2. with OPENBLAS_CORETYPE set to OpenBLAS's best kernel for this CPU
#      (SkylakeX where the CPU has AVX-512, else Zen on AMD / Haswell on Intel).
# Benchmark only: tests and CI never set OPENBLAS_CORETYPE.
# Usage: bench/gemm-vs-nd4j.sh [sizes...] [--training] [--training-m] [--threads 1,2] [--samples N] [--neighbour]
set -euo pipefail
cd "$(dirname "$0")/.."
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
mvn -B -q -DskipTests -pl palm-bench -am package dependency:build-classpath \
    -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=runtime >&2
cp="palm-bench/target/classes:$(cat palm-bench/target/bench.classpath)"
if grep -qw avx512f /proc/cpuinfo; then best=SkylakeX
elif grep -q AuthenticAMD /proc/cpuinfo; then best=Zen
else best=Haswell; fi
run() { "$java" --add-modules jdk.incubator.vector -Xmx4g -cp "$cp" dev.palm4j.bench.GemmVsNd4j "$@" 2>&1 \
        | grep -v -e '^WARNING: Using incubator' -e '^SLF4J'; }
echo "## environment as it is"
run "$@"
echo
echo "## OPENBLAS_CORETYPE=$best"
OPENBLAS_CORETYPE=$best run "$@"
