#!/usr/bin/env bash
# The 2-layer LSTM of ../shared/bench/lstm_train.dml (20 iterations of forward, backward and SGD),
# in the same run:
#   - ours, nn/layers/lstm.dml on the fused lstm/lstm_backward kernels;
#   - ours, the same layer as the plain DML loop over the steps (stdlib-nn/test/reference/lstm.dml);
#   - Keras 3 on JAX (XLA), float64 and float32 (benches/keras/lstm.py).
#   bash benches/lstm_compare.sh          (REPS=5 runs each, best taken; NO_KERAS=1 skips Keras)
# Keras comes from KERAS_VENV (default ~/.cache/dml-bench/keras-venv, made on first use from
# tests/data/keras/requirements.txt; not in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
BENCH=${BENCH:-$PWD/../shared/bench/lstm_train.dml}
cargo build --release --quiet
DML=$PWD/target/release/dml
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
sed 's|source("nn/layers/lstm.dml") as lstm|source("test/reference/lstm.dml") as lstm|' "$BENCH" > "$WORK/lstm_train_dml.dml"

best() { sort -g | head -1; }
inscript() { grep -Eo '_SECONDS [0-9.eE+-]+' | awk '{print $2}' | tail -1; }
fused=(); plain=()
for _ in $(seq "$REPS"); do
  # run from stdlib-nn so that source("test/reference/...") resolves
  fused+=("$(cd stdlib-nn && "$DML" run "$BENCH" | inscript)")
  plain+=("$(cd stdlib-nn && "$DML" run "$WORK/lstm_train_dml.dml" | inscript)")
done
f=$(printf '%s\n' "${fused[@]}" | best); p=$(printf '%s\n' "${plain[@]}" | best)
printf 'LSTM, 20 iterations (best of %s, seconds)\n' "$REPS"
printf '%-34s %8.3f\n' "ours, fused kernels" "$f"
printf '%-34s %8.3f   (fused is %.2fx faster)\n' "ours, DML loop over the steps" "$p" "$(echo "$p / $f" | bc -l)"
if [ -z "${NO_KERAS:-}" ]; then
  VENV=${KERAS_VENV:-$HOME/.cache/dml-bench/keras-venv}
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV (Keras 3 with JAX; once)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r tests/data/keras/requirements.txt
  fi
  field() { echo "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
  k64=(); k32=()
  for _ in $(seq "$REPS"); do
    k64+=("$(field "$(KERAS_BACKEND=jax "$VENV/bin/python" benches/keras/lstm.py 64 32 32 64 20 float64)" warm)")
    k32+=("$(field "$(KERAS_BACKEND=jax "$VENV/bin/python" benches/keras/lstm.py 64 32 32 64 20 float32)" warm)")
  done
  a=$(printf '%s\n' "${k64[@]}" | best); b=$(printf '%s\n' "${k32[@]}" | best)
  printf '%-34s %8.3f   (Keras f64 / ours: %.2fx)\n' "Keras 3 / JAX, float64" "$a" "$(echo "$a / $f" | bc -l)"
  printf '%-34s %8.3f   (Keras f32 / ours: %.2fx)\n' "Keras 3 / JAX, float32" "$b" "$(echo "$b / $f" | bc -l)"
fi
