#!/usr/bin/env bash
# The installed tool's commands in the tests' application-shaped repository, at default settings, one after
# another, each timed: results/application/README.md says what each run is.
set -u
here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/.." && pwd)
out=${OUT:-$checkout/results/application}
work=$(mktemp -d)  # the virtualenv and the application's repository, outside the checkout
mkdir -p "$out"; rm -f "$out/times" "$out"/*.out "$out"/*.err
t() {
    local name=$1; shift
    local started; started=$(date +%s.%N)
    "$@" > "$out/$name.out" 2> "$out/$name.err"
    local rc=$?
    printf "%s rc=%s seconds=%.0f\n" "$name" "$rc" "$(echo "$(date +%s.%N) - $started" | bc)" >> "$out/times"
}
# No extras: the package's own dependencies are every command's.
t install bash -c "python3 -m venv '$work/venv' && '$work/venv/bin/pip' install -q '$checkout'"
python3 "$here/make_application.py" "$work/app" "$out/labels.json"
sha() { python3 -c "import json,sys; print(json.load(open('$out/labels.json'))['commits'][sys.argv[1]])" "$1"; }
tool=$work/venv/bin/metrics-store-bench
store=src/astraguard/hil/metrics/storage.py
cd "$work/app"
for label in "collector only" "merge listing" "stale cache"; do
    name=${label// /_}
    git worktree add -q --detach "$work/$name" "$(sha "$label")"
    (cd "$work/$name" && t "gate_$name" "$tool" gate --store $store --against HEAD~1 --json "$out/gate_$name.json")
done
t history "$tool" history --last 20 --store $store --json "$out/history.json"
t find "$tool" find "$(sha initial)" main --only "get_recent_runs[1000]" --store $store
for label in initial docstrings "collector only" logging; do
    t "equivalence_${label// /_}" "$tool" equivalence --store $store "$(sha "$label")"
done
rm -rf "$work"
