"""The decision rule's settings, [tool.bench.gate] of pyproject.toml, in one place (bench.rule is the rule)."""

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
    instruction_tolerance: float  # --against: relative growth of instructions per call that still passes
    syscall_wandering: tuple[str, ...] = ()  # system calls that may wander run to run (bench.gate.counts)
    syscall_wandering_tolerance: float = 1.0  # calls per call a wandering system call may grow by

    def minimum_effect(self, name: str) -> float:
        return self.minimum_effects.get(name, self.default_minimum_effect)


def load_config(path: Path = PYPROJECT) -> GateConfig:
    """Reads [tool.bench.gate]; a missing, unknown or out-of-range setting is a usage error naming it."""
    try:
        section = tomllib.loads(path.read_text())["tool"]["bench"]["gate"]
    except FileNotFoundError as e:
        raise UsageError(f"no {path}: the gate's decision rule is configured there") from e
    except KeyError as e:
        raise UsageError(f"{path} has no [tool.bench.gate] section (the decision rule's settings)") from e
    fractions_known = {"false_alarm_rate", "minimum_effect", "instruction_tolerance"}
    others = {"minimum_effect_per_benchmark", "syscall_wandering", "syscall_wandering_tolerance"}
    known = fractions_known | others
    if unknown := set(section) - known:
        raise UsageError(f"[tool.bench.gate] in {path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    if missing := known - {"minimum_effect_per_benchmark"} - set(section):
        raise UsageError(f"[tool.bench.gate] in {path}: missing {sorted(missing)}")
    wandering = section["syscall_wandering"]
    if not (isinstance(wandering, list) and all(isinstance(name, str) and name for name in wandering)):
        raise UsageError(f"[tool.bench.gate] syscall_wandering = {wandering!r} in {path}: want a list of call names")
    wandering_tolerance = section["syscall_wandering_tolerance"]
    if not (isinstance(wandering_tolerance, int | float) and wandering_tolerance >= 0):
        raise UsageError(
            f"[tool.bench.gate] syscall_wandering_tolerance = {wandering_tolerance!r} in {path}: "
            "want calls per call, at least 0"
        )
    per_benchmark = dict(section.get("minimum_effect_per_benchmark", {}))
    all_names = {case_name(op, size) for op, size in cases()}
    if strangers := set(per_benchmark) - all_names:
        raise UsageError(f"[tool.bench.gate.minimum_effect_per_benchmark] names no benchmark: {sorted(strangers)}")
    fractions = {key: section[key] for key in fractions_known} | per_benchmark
    for key, value in fractions.items():
        if not (isinstance(value, float) and 0 < value < 1):
            raise UsageError(f"[tool.bench.gate] {key} = {value!r} in {path}: want a fraction between 0 and 1")
    return GateConfig(
        section["false_alarm_rate"],
        section["minimum_effect"],
        per_benchmark,
        section["instruction_tolerance"],
        tuple(wandering),
        float(wandering_tolerance),
    )


def rule_text(
    config: GateConfig, names: list[str], looks: tuple[int, ...], *, tests: int | None = None, two_sided: bool = False
) -> str:
    """The rule as printed (bench.rule): its level per bound, the band, the looks; `tests` where they are not the
    benchmarks (a history's positions)."""
    effects = sorted({config.minimum_effect(name) for name in names})
    effect = " / ".join(f"{e:.0%}" for e in effects)
    sides = 2 if two_sided else 1
    tests = len(names) if tests is None else tests
    level = config.false_alarm_rate / (max(tests, 1) * len(looks) * sides)
    past = f"outside 1 +- {effect}" if two_sided else f"above 1 + {effect}"
    return (
        f"rule: {'a step' if two_sided else 'regressed'} when the one-sided trimmed t bound at {level:.3%} on the "
        f"log ratio lies {past} at any look ({'/'.join(map(str, looks))} processes, only the undecided measured "
        f"further) ({config.false_alarm_rate:.0%} nominal false alarms for these {tests} tests together)"
    )
