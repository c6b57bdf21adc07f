#!/usr/bin/env bash
# Generated fused operators against the unfused plan (every fusion rule off), in the same run:
# each script of benches/fused/ (one per template) runs with fusion on and off, best of REPS.
#   bash benches/fused.sh            (N=2000 cells a side, ITERS=10, REPS=3)
# The "check" lines of both runs must agree (they print the same values).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}; ITERS=${ITERS:-10}; REPS=${REPS:-3}
cargo build --release --quiet
DML=$PWD/target/release/dml
OFF=(--no-rewrite fuse_cell --no-rewrite fuse_row --no-rewrite fuse_multi_agg --no-rewrite fuse_outer)
best() { sort -g | head -1; }
secs() { grep -Eo '^SECONDS [0-9.eE+-]+' | awk '{print $2}'; }
printf '%-16s %10s %10s %8s\n' "template" "fused(s)" "unfused(s)" "speedup"
for f in benches/fused/*.dml; do
  on=(); off=()
  for _ in $(seq "$REPS"); do
    a=$("$DML" run "$f" -nvargs n="$N" iters="$ITERS")
    b=$("$DML" run "$f" "${OFF[@]}" -nvargs n="$N" iters="$ITERS")
    [ "$(grep check <<<"$a")" = "$(grep check <<<"$b")" ] || echo "  values differ: $(grep check <<<"$a") vs $(grep check <<<"$b")"
    on+=("$(secs <<<"$a")"); off+=("$(secs <<<"$b")")
  done
  x=$(printf '%s\n' "${on[@]}" | best); y=$(printf '%s\n' "${off[@]}" | best)
  printf '%-16s %10.4f %10.4f %7.2fx\n' "$(basename "$f" .dml)" "$x" "$y" "$(echo "$y / $x" | bc -l)"
done
