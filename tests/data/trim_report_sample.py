"""Rebuilds tests/data/report_sample/ from a committed bench run: real result files, trimmed to test size.

    python tests/data/trim_report_sample.py [RESULTS]      # default: results/

Keeps four candidates' pyperf runs (seven benchmarks, the first runs of each), the newest pytest-benchmark
run (the same benchmarks, no raw data), the floors' first runs, and the equivalence record. Run it after
`nox -s rebaseline`, when the committed results were measured against another control than the sample.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
SAMPLE = HERE / "report_sample"
CANDIDATES = ("baseline", "optimized", "proposed", "deployed")
BENCHMARKS = (
    "save_latency_stats[1000]",
    "save_latency_stats[10000]",
    "get_run_metrics_cold[5000]",
    "get_run_metrics_warm[5000]",
    "compare_runs[5000]",
    "get_recent_runs[100]",
    "get_recent_runs[10000]",
)
PYPERF_RUNS = 6  # pyperf's calibration run and five worker processes
FLOOR_RUNS = 3


def _write(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n")


def main(results: Path) -> None:
    if SAMPLE.exists():
        shutil.rmtree(SAMPLE)
    for candidate in CANDIDATES:
        suite = json.loads((results / "pyperf" / f"{candidate}.json").read_text())
        suite["benchmarks"] = [
            {**bench, "runs": bench["runs"][:PYPERF_RUNS]}
            for bench in suite["benchmarks"]
            if bench["metadata"]["name"] in BENCHMARKS
        ]
        _write(SAMPLE / "pyperf" / f"{candidate}.json", suite)
    newest = max((results / "pytest-benchmark").glob("*/[0-9][0-9][0-9][0-9]_*.json"), key=lambda p: p.name[:4])
    saved = json.loads(newest.read_text())
    kept = []
    for bench in saved["benchmarks"]:
        if bench["group"] in BENCHMARKS and bench["extra_info"].get("candidate") in CANDIDATES:
            bench["stats"].pop("data", None)
            kept.append(bench)
    saved["benchmarks"] = kept
    _write(SAMPLE / "pytest-benchmark" / newest.parent.name / f"0001{newest.name[4:]}", saved)
    floors = json.loads((results / "floors.json").read_text())
    floors["benchmarks"] = [{**bench, "runs": bench["runs"][:FLOOR_RUNS]} for bench in floors["benchmarks"]]
    _write(SAMPLE / "floors.json", floors)
    shutil.copyfile(results / "equivalence.json", SAMPLE / "equivalence.json")
    print(f"wrote {SAMPLE} from {results}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results"))
