#!/usr/bin/env bash
# Scale workloads against SystemDS, measured in the same run on the same machine:
#   bash benches/scale.sh [workload ...]     (default: all of benches/scale/*.dml, then nn)
# For each workload it runs our release binary and SystemDS (../shared/reference/sysds) once
# each, under /usr/bin/time, and prints both whole-process times, the ratio SystemDS / ours,
# both peak resident memories, and whether the printed checksums agree (relative 1e-6).
# `nn` is SystemDS's nn/examples/mnist_lenet_distrib_sgd-train-dummy-data.dml at its default
# arguments, run in a directory holding SystemDS's own nn tree (as SystemDS's README runs it);
# its data are random, so only its `Test Accuracy` line's presence is checked.
# The DML-bodied builtins (lm, l2svm, ...) are SystemDS's: DML_BUILTIN_PATH points at them.
set -euo pipefail
cd "$(dirname "$0")/.."
SYSDS=${SYSDS:-$(realpath ../shared/reference/sysds)}
SCRIPTS=${SYSDS_SCRIPTS:-$HOME/.cache/dml-reference/scripts-3.4.0/scripts}
[ -d "$SCRIPTS/builtin" ] || "$SYSDS" --install >/dev/null
export DML_BUILTIN_PATH=${DML_BUILTIN_PATH:-$SCRIPTS/builtin}
cargo build --release --quiet
DML=$(realpath target/release/dml)
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
  for f in benches/scale/*.dml; do
    b=$(basename "$f" .dml)
    [ "$b" = data ] || workloads+=("$b")
  done
  workloads+=(nn)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD...: runs CMD under /usr/bin/time; leaves "seconds peak_kb" in $tmp/NAME.time.
run() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$tmp/$name.time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || true
}
checksum() { grep -Eo '(checksum|shape) .*' "$1" | tail -1 || true; }
agree() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); m = split(b, y, " ");
    if (n != m || n < 2) { print "NO"; exit }
    for (i = 2; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; s = (x[i] < 0 ? -x[i] : x[i]);
      if (d > 1e-6 * (1 + s)) { print "NO"; exit } }
    print "yes" }'
}

printf '%-16s %10s %10s %7s %12s %12s %7s\n' workload "ours(s)" "sysds(s)" ratio "ours(MB)" "sysds(MB)" values
for w in "${workloads[@]}"; do
  if [ "$w" = nn ]; then
    mkdir -p "$tmp/nnrun"; ln -sfn "$SCRIPTS/nn" "$tmp/nnrun/nn"
    script=nn/examples/mnist_lenet_distrib_sgd-train-dummy-data.dml
    (cd "$tmp/nnrun" && run ours "$DML" run "$script" && run sysds "$SYSDS" -q "$script")
    a=$(grep -c 'Test Accuracy' "$tmp/ours.out" || true); b=$(grep -c 'Test Accuracy' "$tmp/sysds.out" || true)
    ok=$([ "$a" -ge 1 ] && [ "$b" -ge 1 ] && echo "ran" || echo "NO")
  else
    run ours "$DML" run "benches/scale/$w.dml"
    run sysds "$SYSDS" -q "benches/scale/$w.dml"
    ok=$(agree "$(checksum "$tmp/ours.out")" "$(checksum "$tmp/sysds.out")")
    [ "$w" = kmeans ] && ok="n/a"
  fi
  read -r ot om < <(tail -1 "$tmp/ours.time") || true
  read -r st sm < <(tail -1 "$tmp/sysds.time") || true
  printf '%-16s %10.2f %10.2f %6.1fx %12.0f %12.0f %7s\n' "$w" "$ot" "$st" "$(echo "$st / $ot" | bc -l)" \
    "$(echo "$om / 1024" | bc -l)" "$(echo "$sm / 1024" | bc -l)" "$ok"
  if [ -n "${VERBOSE:-}" ]; then
    echo "  ours:  $(checksum "$tmp/ours.out") $(tail -2 "$tmp/ours.err" | tr '\n' ' ')"
    echo "  sysds: $(checksum "$tmp/sysds.out")"
  fi
done
