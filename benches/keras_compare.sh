#!/usr/bin/env bash
# Training a converted Keras model here against Keras 3 itself (JAX backend), in the same run:
#   bash benches/keras_compare.sh            (LeNet of ../shared/bench/lenet_train.dml's shape)
# Builds the model in Keras, saves it untrained, times Keras's fit (float64, and float32 for
# reference), converts the file with `dml convert keras`, trains the converted script on the same
# data and weights, and prints the per-epoch times, the ratio Keras / ours, and both loss curves.
# Keras comes from a virtual environment of its own, made on first use (not in CI):
# KERAS_VENV (default ~/.cache/dml-bench/keras-venv), from tests/data/keras/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1024}; BATCH=${BATCH:-64}; EPOCHS=${EPOCHS:-4}
VENV=${KERAS_VENV:-$HOME/.cache/dml-bench/keras-venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV (Keras 3 with JAX; once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r tests/data/keras/requirements.txt
fi
cargo build --release --quiet
DML=$PWD/target/release/dml
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

keras64=$(KERAS_BACKEND=jax "$VENV/bin/python" benches/keras/lenet.py "$WORK/k64" "$N" "$BATCH" "$EPOCHS" float64)
keras32=$(KERAS_BACKEND=jax "$VENV/bin/python" benches/keras/lenet.py "$WORK/k32" "$N" "$BATCH" "$EPOCHS" float32)

"$DML" convert keras "$WORK/k64/lenet.keras" --out "$WORK/dml" 2>/dev/null
s=$(date +%s.%N)
ours=$("$DML" run "$WORK/dml/train.dml" -nvargs X="$WORK/k64/x.csv" y="$WORK/k64/y.csv" \
  epochs="$EPOCHS" batch_size="$BATCH" shuffle=FALSE)
e=$(date +%s.%N)
echo "$ours"
# Per-epoch seconds as the training script prints them ("Epoch e/E - 0.42 s - ...").
ours_times=$(echo "$ours" | grep -Eo ' - [0-9.]+ s - ' | awk '{print $2}')
ours_cold=$(echo "$ours_times" | head -1)
ours_warm=$(echo "$ours_times" | tail -n +2 | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
field() { echo "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
k64_cold=$(field "$keras64" cold); k64_warm=$(field "$keras64" warm)
k32_cold=$(field "$keras32" cold); k32_warm=$(field "$keras32" warm)
printf '\nLeNet, N=%s, batch %s, one epoch (seconds; warm = median of epochs 2..%s)\n' "$N" "$BATCH" "$EPOCHS"
printf '%-22s %10s %10s\n' "" cold warm
printf '%-22s %10.3f %10.3f\n' "ours (float64)" "$ours_cold" "$ours_warm"
printf '%-22s %10.3f %10.3f\n' "Keras/JAX float64" "$k64_cold" "$k64_warm"
printf '%-22s %10.3f %10.3f\n' "Keras/JAX float32" "$k32_cold" "$k32_warm"
printf 'ratio Keras f64 / ours, warm: %.2fx   (f32: %.2fx)\n' \
  "$(echo "$k64_warm / $ours_warm" | bc -l)" "$(echo "$k32_warm / $ours_warm" | bc -l)"
printf 'ours, whole process incl. reading the data: %.3f s\n' "$(echo "$e - $s" | bc -l)"
echo "Keras f64 losses: $(field "$keras64" losses)"
