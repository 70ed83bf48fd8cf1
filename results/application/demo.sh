#!/usr/bin/env bash
# Issue 25's "done when" runs, at default settings, one after another, each timed: see README.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/../.." && pwd)
out=${OUT:-$here}
work=$(mktemp -d)  # the virtualenv and the application's repository, outside the checkout
mkdir -p "$out"; rm -f "$out/times"
t() {
    local name=$1; shift
    local started; started=$(date +%s.%N)
    "$@" > "$out/$name.out" 2> "$out/$name.err"
    local rc=$?
    printf "%s rc=%s seconds=%.0f\n" "$name" "$rc" "$(echo "$(date +%s.%N) - $started" | bc)" >> "$out/times"
}
t install bash -c "python3 -m venv '$work/venv' && '$work/venv/bin/pip' install -q '$checkout[bench]'"
python3 "$here/make20.py" "$work/app"
tool=$work/venv/bin/metrics-store-bench
store=src/astraguard/hil/metrics/storage.py
cd "$work/app"
unchanged=$(git log --format=%H --grep='^Collector: a note on ordering' -n1)
planted=$(git log --format=%H --grep='^List recent runs faster' -n1)
initial=$(git log --format=%H --reverse | head -1)
logging=$(git log --format=%H --grep='^Log load errors' -n1)
git worktree add -q --detach "$work/unchanged" "$unchanged"
git worktree add -q --detach "$work/planted" "$planted"
(cd "$work/unchanged" && t gate_unchanged "$tool" gate --store $store --against HEAD~1)
(cd "$work/planted" && t gate_planted "$tool" gate --store $store --against HEAD~1)
t history "$tool" history --last 20 --store $store --json "$out/history.json"
t find "$tool" find "$initial" main --only "get_recent_runs[1000]" --store $store
t equivalence "$tool" equivalence --store $store "$logging"
rm -rf "$work"
