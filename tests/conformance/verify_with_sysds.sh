#!/usr/bin/env bash
# Re-runs conformance cases with the real Apache SystemDS 3.4.0 and compares its stdout with the
# recorded NAME.out files. Needs Java 17 and the reference wrapper (not run by CI).
#
# Usage: tests/conformance/verify_with_sysds.sh [--write] [CASE...]
#   CASE: a path to NAME.dml (or NAME, or a folder) relative to tests/conformance or absolute;
#         default: every case.
#   --write: (re)generate NAME.out from SystemDS instead of diffing. Cases whose header says the
#         expected output was derived by hand (a line `# expected output derived by hand`) are
#         skipped by --write and only reported by the diff.
# Env: SYSDS (default /work/shared/reference/sysds).
#
# The comparison here is exact (after trimming trailing whitespace); the Rust harness allows a
# numeric tolerance, so an exact mismatch reported here may still be fine there.
# SystemDS prints its error banner ("An Error Occurred : ...", preceded by its statistics) on
# stdout; everything from there on is cut, so NAME.out holds only what the script printed.
# `$TMP` in NAME.args is replaced by a fresh temporary directory, as the harness does.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SYSDS="${SYSDS:-/work/shared/reference/sysds}"
WRITE=0
if [[ "${1:-}" == "--write" ]]; then WRITE=1; shift; fi

cases=()
add_case() {
  local p="$1"
  [[ "$p" = /* ]] || { [[ -e "$p" || -e "$p.dml" ]] || p="$HERE/$p"; }
  if [[ -d "$p" ]]; then
    while IFS= read -r f; do cases+=("$f"); done < <(find "$p" -name data -prune -o -name '*.dml' ! -name '*.inc.dml' -print | sort)
  elif [[ -f "$p" ]]; then cases+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
  elif [[ -f "$p.dml" ]]; then cases+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p").dml")
  else echo "no such case: $1" >&2; exit 2; fi
}
if [[ $# -eq 0 ]]; then add_case "$HERE"; else for a in "$@"; do add_case "$a"; done; fi

# Keeps the script's own output: cuts SystemDS's statistics block and error banner.
strip_banner() {
  awk '/^SystemDS Statistics:$/ {exit} /An Error Occurred : / {exit} index($0, "\033[31m") == 1 {exit} {print}'
}

fail=0; n=0; skipped=0
for f in "${cases[@]}"; do
  n=$((n+1))
  dir="$(dirname "$f")"; base="$(basename "$f" .dml)"; rel="${f#"$HERE"/}"
  tmp="$(mktemp -d)"
  args=()
  if [[ -f "$dir/$base.args" ]]; then
    # shellcheck disable=SC2013
    for a in $(cat "$dir/$base.args"); do args+=("${a//\$TMP/$tmp}"); done
  fi
  got="$(cd "$dir" && "$SYSDS" -q "$base.dml" "${args[@]}" 2>/dev/null | strip_banner)"
  rc=${PIPESTATUS[0]}
  rm -rf "$tmp"
  want_rc=0
  if [[ -f "$dir/$base.err" ]]; then want_rc="$(head -n1 "$dir/$base.err" | awk '{print $2}')"; fi
  hand=0; grep -q '^# expected output derived by hand' "$f" && hand=1
  if [[ $WRITE -eq 1 && $hand -eq 0 ]]; then
    printf '%s\n' "$got" | sed -e 's/[[:space:]]*$//' > "$dir/$base.out"
    # drop a lone empty line (script printed nothing)
    [[ -z "$got" ]] && : > "$dir/$base.out"
    [[ "$rc" != "$want_rc" ]] && echo "NOTE $rel: sysds exit $rc, .err says $want_rc"
    continue
  fi
  want="$(sed -e 's/[[:space:]]*$//' "$dir/$base.out" 2>/dev/null)"
  got_t="$(printf '%s\n' "$got" | sed -e 's/[[:space:]]*$//')"
  if [[ "$got_t" != "$want" || "$rc" != "$want_rc" ]]; then
    fail=$((fail+1))
    if [[ $hand -eq 1 ]]; then echo "MISMATCH (expected by hand, SystemDS differs) $rel (exit $rc, want $want_rc)";
    else echo "MISMATCH $rel (exit $rc, want $want_rc)"; fi
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$got_t") | head -20
  fi
done
if [[ $WRITE -eq 1 ]]; then echo "wrote outputs for $n cases"; exit 0; fi
echo "$n cases, $fail mismatches"
[[ $fail -eq 0 ]]
