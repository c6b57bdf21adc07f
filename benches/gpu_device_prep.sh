#!/usr/bin/env bash
# Prepares benches/gpu_device_run.sh's inputs here, for a machine with an NVIDIA GPU that has no
# Rust toolchain and no network: the `gpu,cuda` build of `dml` and of the GPU operator tests (tests/gpu_ops.rs),
# stripped and compressed (the working tree that travels is limited to 64 MiB), and the LeNet and
# LSTM workloads, in device-run/ (which .git/info/exclude ignores: name it in the device call's
# `carry`). Then, there: bash benches/gpu_device_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=device-run
grep -qx "/$OUT/" .git/info/exclude 2>/dev/null || echo "/$OUT/" >> "$(git rev-parse --git-common-dir)/info/exclude"
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release --features gpu,cuda
strip -o "$OUT/dml" target/release/dml
for t in gpu_ops; do
    bin=$(cargo test --release --features gpu,cuda --test "$t" --no-run --message-format=json 2>/dev/null \
        | grep "\"name\":\"$t\"" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    strip -o "$OUT/$t" "$bin"
done
gzip -9 "$OUT"/dml "$OUT"/gpu_ops
cp ../shared/bench/lenet_train.dml ../shared/bench/lstm_train.dml "$OUT/"
du -sh "$OUT"
