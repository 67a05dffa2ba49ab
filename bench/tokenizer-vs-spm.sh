#!/usr/bin/env bash
# palm4j's BPE training beside SentencePiece's spm_train --model_type=bpe on the KJV corpus:
# same text, vocabulary (8192), byte fallback, split digits and threads; each sample a fresh
# process, rounds interleaved, noisy samples discarded; prints both medians, the ratio, and
# palm4j's encoding speed. Benchmark only, not a test.
# Usage: bench/tokenizer-vs-spm.sh [--vocab N] [--rounds N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
java=${JAVA_HOME:+$JAVA_HOME/bin/}java

data/kjv.sh # builds data/cache/kjv when missing

if ! command -v spm_train >/dev/null || ! command -v spm_encode >/dev/null; then
  echo "installing Debian's sentencepiece (spm_train)" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
  else
    echo "spm_train is missing and installing it needs root: run 'sudo apt-get install sentencepiece', then retry" >&2
    exit 3
  fi
  apt-cache show sentencepiece >/dev/null 2>&1 || $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq sentencepiece >/dev/null
fi

mvn -B -q -DskipTests -pl palm-core -am compile >&2
"$java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -cp palm-core/target/classes \
  dev.palm4j.core.bench.TokenizerVsSpm data/cache/kjv "$@" 2>&1 | grep -v '^WARNING: Using incubator'
