"""The gate's decision rule: its settings, [tool.bench.gate] of pyproject.toml, in one place (bench.gate.check says
why each is what it is)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.errors import UsageError
from bench.model.operations import case_name, cases
from bench.model.results import PYPROJECT


@dataclass(frozen=True)
class GateConfig:
    """[tool.bench.gate] of pyproject.toml: the decision rule's numbers, in one place."""

    false_alarm_rate: float  # nominal, for the whole run: all benchmarks together
    default_minimum_effect: float
    minimum_effects: Mapping[str, float]  # per benchmark, where it differs from the default
    instruction_tolerance: float  # --against --instructions: relative growth that still passes

    def minimum_effect(self, name: str) -> float:
        return self.minimum_effects.get(name, self.default_minimum_effect)

    def confidence(self, benchmarks: int) -> float:
        """Each interval's confidence: Bonferroni over the benchmarks of one run."""
        return 1 - self.false_alarm_rate / benchmarks


def load_config(path: Path = PYPROJECT) -> GateConfig:
    """Reads [tool.bench.gate]; a missing, unknown or out-of-range setting is a usage error naming it."""
    try:
        section = tomllib.loads(path.read_text())["tool"]["bench"]["gate"]
    except FileNotFoundError as e:
        raise UsageError(f"no {path}: the gate's decision rule is configured there") from e
    except KeyError as e:
        raise UsageError(f"{path} has no [tool.bench.gate] section (the decision rule's settings)") from e
    known = {"false_alarm_rate", "minimum_effect", "minimum_effect_per_benchmark", "instruction_tolerance"}
    if unknown := set(section) - known:
        raise UsageError(f"[tool.bench.gate] in {path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    if missing := known - {"minimum_effect_per_benchmark"} - set(section):
        raise UsageError(f"[tool.bench.gate] in {path}: missing {sorted(missing)}")
    per_benchmark = dict(section.get("minimum_effect_per_benchmark", {}))
    all_names = {case_name(op, size) for op, size in cases()}
    if strangers := set(per_benchmark) - all_names:
        raise UsageError(f"[tool.bench.gate.minimum_effect_per_benchmark] names no benchmark: {sorted(strangers)}")
    fractions = {key: section[key] for key in known - {"minimum_effect_per_benchmark"}} | per_benchmark
    for key, value in fractions.items():
        if not (isinstance(value, float) and 0 < value < 1):
            raise UsageError(f"[tool.bench.gate] {key} = {value!r} in {path}: want a fraction between 0 and 1")
    return GateConfig(
        section["false_alarm_rate"], section["minimum_effect"], per_benchmark, section["instruction_tolerance"]
    )


def rule_text(config: GateConfig, names: list[str]) -> str:
    effects = sorted({config.minimum_effect(name) for name in names})
    effect = " / ".join(f"{e:.0%}" for e in effects)
    return (
        f"rule: regressed when the whole {config.confidence(len(names)):.2%} interval lies above 1 + {effect} "
        f"({config.false_alarm_rate:.0%} nominal false alarms for these {len(names)} benchmarks together), "
        "shown again in fresh processes"
    )
