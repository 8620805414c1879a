#!/usr/bin/env bash
# Fuzzes one target (load or pipeline) for SECONDS, seeded with the shipped
# examples: `fuzz/run.sh pipeline 600`. Needs a nightly toolchain and
# `cargo install cargo-fuzz`. A crash is saved under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh load|pipeline [SECONDS]}
seconds=${2:-300}
corpus=corpus/$target
mkdir -p "$corpus"
for example in ../examples/*/berth.yaml; do
  cp "$example" "$corpus/example-$(basename "$(dirname "$example")").yaml"
done
# 512 KiB reaches the loader's depth (128) and expansion limits and thousands of keys.
# LeakSanitizer counts the thread-local destructors that the loader's and the
# renderer's worker threads register as leaks; they are not, so it is off.
exec cargo +nightly fuzz run "$target" "$corpus" -- \
  -max_len=524288 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -detect_leaks=0
