#!/usr/bin/env bash
# Issue 19's measurements in one run on a machine with an NVIDIA GPU, which has no Rust toolchain
# and no network. Prepare here with `bash benches/gpu_device_prep.sh` (the `gpu,cuda` build of
# `dml` and of the GPU tests, and the LeNet and LSTM workloads, in device-run/), then run this
# there with device-run carried. It prints the device, the 8192^3 f64 product through CUDA and
# wgpu (GFLOP/s, share of the f64 peak, wgpu against CUDA), the GPU tests' summaries (CUDA and
# wgpu variants), and for the LeNet and LSTM workloads the in-script seconds (best of REPS) with
# --no-gpu, --gpu and --gpu force, their ratios, and whether each printed the CPU's loss lines.
# Elsewhere, DML=path and BENCH_DIR=folder run it on any build.
set -uo pipefail
cd "$(dirname "$0")/.."
# The prepared binaries, unpacked outside the working tree.
if [ -z "${DML:-}" ] && [ -f device-run/dml.gz ]; then
    mkdir -p /tmp/device-run
    for f in device-run/*.gz; do
        gunzip -c "$f" > "/tmp/device-run/$(basename "$f" .gz)" && chmod +x "/tmp/device-run/$(basename "$f" .gz)"
    done
    DML=/tmp/device-run/dml
    # (gpu_cli runs the `dml` of the build machine's path, so only gpu_ops travels.)
    GPU_TESTS=${GPU_TESTS:-/tmp/device-run/gpu_ops}
fi
DML=${DML:-target/release/dml}
# cudarc loads the driver, cuBLAS and NVRTC at run time: add where the image keeps them (PyTorch's
# wheels ship cuBLAS and NVRTC) to the library path.
for lib in libcuda.so libcublas.so libnvrtc.so; do
    dir=$(timeout 60 find /usr /opt /lib /lib64 -name "$lib*" 2>/dev/null | head -1 | xargs -r dirname)
    [ -n "$dir" ] && LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
REPS=${REPS:-3}
N=${N:-8192}
BENCH_DIR=${BENCH_DIR:-}
for d in "$BENCH_DIR" device-run ../shared/bench shared/bench; do
    if [ -n "$d" ] && [ -f "$d/lenet_train.dml" ]; then BENCH_DIR=$d; break; fi
done
if [ ! -x "$DML" ]; then
    echo "no $DML: run benches/gpu_device_prep.sh first (or build with --features gpu,cuda)" >&2
    exit 2
fi
status=0
echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>/dev/null || echo "(no nvidia-smi)"
echo "== f64 product ${N}^3, inputs on the device"
timeout 300 "$DML" gpu-bench --n "$N" --reps 5 || status=$?
# Without a Vulkan driver for the GPU wgpu has no adapter there: its test variants are skipped
# (they fail by design where an adapter is expected, as in CI on lavapipe).
skip=()
if "$DML" gpu-bench --backend wgpu --n 64 --reps 1 2>&1 | grep -q "not run"; then
    echo "(wgpu has no adapter here: its test variants are skipped)"
    skip=(--skip ::wgpu)
fi
for t in ${GPU_TESTS:-}; do
    echo "== $t"
    timeout 300 "$t" --test-threads=1 "${skip[@]}" >/tmp/gpu_device_run.tests 2>&1 || status=1
    grep -E "^test result|FAILED|panicked" /tmp/gpu_device_run.tests | head -20
    skipped=$(grep -c "skipped" /tmp/gpu_device_run.tests)
    [ "$skipped" -gt 0 ] && echo "$skipped skipped, e.g. $(grep -m1 -o 'skipped .*' /tmp/gpu_device_run.tests)"
done
if [ -z "$BENCH_DIR" ]; then
    echo "no lenet_train.dml / lstm_train.dml found (set BENCH_DIR, or run benches/gpu_device_prep.sh)" >&2
    exit 2
fi
inscript() { grep -Eo '_SECONDS [0-9.eE+-]+' | awk '{print $2}' | tail -1; }
for w in lenet_train lstm_train; do
    echo "== $w.dml (best of $REPS, seconds inside the script)"
    cpu_loss=""
    cpu_time=""
    for flags in "--no-gpu" "--gpu" "--gpu force"; do
        best=""
        loss=""
        for _ in $(seq "$REPS"); do
            out=$(timeout 300 "$DML" run "$BENCH_DIR/$w.dml" $flags 2>/tmp/gpu_device_run.err) || {
                status=1
                echo "$flags failed: $(tail -3 /tmp/gpu_device_run.err)"
                continue
            }
            t=$(echo "$out" | inscript)
            loss=$(echo "$out" | grep -i loss)
            if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a + 0 < b + 0) }'; then best=$t; fi
        done
        [ -z "$best" ] && continue
        if [ "$flags" = "--no-gpu" ]; then
            cpu_time=$best
            cpu_loss=$loss
            printf '%-12s %10.4g\n' "$flags" "$best"
        else
            same=$([ "$loss" = "$cpu_loss" ] && echo "the CPU's loss lines" || echo "loss lines DIFFER: $loss")
            printf '%-12s %10.4g   CPU/this = %.2f   %s\n' "$flags" "$best" "$(awk -v a="$cpu_time" -v b="$best" 'BEGIN { print a / b }')" "$same"
        fi
    done
    echo "$cpu_loss" | head -2
done
exit $status
