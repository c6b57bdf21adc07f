#!/usr/bin/env bash
# Issue 19's acceptance bench: f64 matrix product N x N x N (default 8192) through the CUDA
# backend and through the wgpu backend on the same machine, inputs resident on the device,
# printing GFLOP/s, the share of the GPU's f64 peak (CUDA reads it from the compute capability)
# and wgpu's rate as a share of CUDA's. Needs no network: it runs a binary built beforehand with
#   cargo build --release --features gpu,cuda
# (or DML=/path/to/dml). With LENET=path/to/lenet_train.dml it also times that script with
# `--gpu` against the CPU (same machine, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
DML=${DML:-target/release/dml}
N=${N:-8192}
REPS=${REPS:-5}
if [ ! -x "$DML" ]; then
    echo "no $DML: build it first with cargo build --release --features gpu,cuda" >&2
    exit 2
fi
status=0
"$DML" gpu-bench --n "$N" --reps "$REPS" || status=$?
if [ -n "${LENET:-}" ] && [ -f "$LENET" ]; then
    for flags in "--no-gpu" "--gpu"; do
        start=$(date +%s.%N)
        "$DML" run "$LENET" $flags --stats >/dev/null 2>"/tmp/gpu_matmul_lenet$flags.err" || status=$?
        end=$(date +%s.%N)
        echo "lenet_train.dml $flags: $(echo "$end - $start" | bc) s"
    done
fi
exit $status
