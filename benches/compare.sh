#!/usr/bin/env bash
# Benchmarks against SystemDS, measured in the same run on the same machine:
#   bash benches/compare.sh [workload ...]      (default: all of ../shared/bench)
# For each workload it runs our release binary and SystemDS (../shared/reference/sysds) REPS
# times (default 3), alternating, and prints the median whole-process time, the median time the
# script measured itself (its *_SECONDS line), and the ratios SystemDS / ours.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-../shared/bench}
SYSDS=${SYSDS:-../shared/reference/sysds}
REPS=${REPS:-3}
cargo build --release --quiet
DML=target/release/dml
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(trivial matmul_forced lenet_train lstm_train)

median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "nan"; else print a[int((NR+1)/2)] }'; }
inscript() { grep -Eo '_SECONDS [0-9.eE+-]+' | awk '{print $2}' | tail -1; }

printf '%-16s %12s %12s %8s %14s %14s %8s\n' workload "ours(s)" "sysds(s)" ratio "ours-in(s)" "sysds-in(s)" ratio
for w in "${workloads[@]}"; do
  script="$BENCH_DIR/$w.dml"
  ours_t=(); sys_t=(); ours_i=(); sys_i=()
  for _ in $(seq "$REPS"); do
    s=$(date +%s.%N); out=$("$DML" run "$script" 2>/dev/null); e=$(date +%s.%N)
    ours_t+=("$(echo "$e - $s" | bc -l)"); ours_i+=("$(echo "$out" | inscript || true)")
    s=$(date +%s.%N); out=$("$SYSDS" -q "$script" 2>/dev/null); e=$(date +%s.%N)
    sys_t+=("$(echo "$e - $s" | bc -l)"); sys_i+=("$(echo "$out" | inscript || true)")
  done
  ot=$(printf '%s\n' "${ours_t[@]}" | median); st=$(printf '%s\n' "${sys_t[@]}" | median)
  oi=$(printf '%s\n' "${ours_i[@]}" | { grep . || true; } | median); si=$(printf '%s\n' "${sys_i[@]}" | { grep . || true; } | median)
  r1=$(echo "$st / $ot" | bc -l)
  if [ "$oi" = nan ] || [ "$si" = nan ]; then
    printf '%-16s %12.3f %12.3f %7.1fx %14s %14s %8s\n' "$w" "$ot" "$st" "$r1" - - -
  else
    printf '%-16s %12.3f %12.3f %7.1fx %14.3f %14.3f %7.1fx\n' "$w" "$ot" "$st" "$r1" "$oi" "$si" "$(echo "$si / $oi" | bc -l)"
  fi
done
