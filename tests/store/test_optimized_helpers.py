"""The optimized store's small helpers, pinned where no output of the store shows them: each was a surviving
mutmut mutant (plain_json's fast JSON text, the names of JSON kinds, the empty summary, the leftover-name
removal, the other run's cache key, the default listing limit)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import baseline, optimized

SUMMARY = optimized.SUMMARY_NAME


_PLAIN_VALUES = st.one_of(
    st.text(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-0.0, math.inf])
)
_PLAIN_TREES = st.recursive(
    st.dictionaries(st.text(), _PLAIN_VALUES, max_size=4),
    lambda children: st.dictionaries(st.text(), st.one_of(_PLAIN_VALUES, children), max_size=4),
    max_leaves=12,
)


@given(tree=_PLAIN_TREES)
def test_plain_json_gives_json_dumps_text_for_every_plain_tree(tree: dict[str, Any]) -> None:
    assert optimized.plain_json(tree, "\n") == json.dumps(tree, indent=2)


@pytest.mark.parametrize("odd", [True, None, [1], (1,), {1: 2}, 1.5j], ids=repr)
def test_plain_json_leaves_anything_else_to_json_dumps(odd: Any) -> None:
    tree = {"a": 1, "b": {"c": odd}} if not isinstance(odd, dict) else {"a": 1, "b": odd}
    with pytest.raises(optimized._NotPlainJSON):
        optimized.plain_json(tree, "\n")


# --- listing -------------------------------------------------------------------------------------


def test_get_recent_runs_without_a_limit_lists_the_baselines_ten(tmp_path: Path) -> None:
    for i in range(12):
        folder = tmp_path / f"run{i:02}"
        folder.mkdir()
        (folder / SUMMARY).write_text("{}")
        for path in (folder / SUMMARY, folder):
            os.utime(path, ns=(1_600_000_000 * 10**9 + i * 10**9,) * 2)
    listed = optimized.MetricsStorage.get_recent_runs(str(tmp_path))
    assert listed == baseline.MetricsStorage.get_recent_runs(str(tmp_path))
    assert len(listed) == 10


# --- what tests/equivalent_mutants.toml's judgements rest on ----------------------------------------


@pytest.mark.parametrize("text", ["[]", '""', "1", "1.5", "true", "false", "-0", "1e400"])
def test_every_kind_of_json_value_but_an_object_or_null_has_a_name(text: str) -> None:
    """not_an_object's fallback to the type's own name is never reached by what json.loads returns."""
    assert type(json.loads(text)) in optimized._JSON_KINDS
    assert optimized.not_an_object(json.loads(text)) == (
        f"the summary is {optimized._JSON_KINDS[type(json.loads(text))]} in JSON, not an object"
    )


def test_summarise_of_no_measurements_is_what_an_empty_collector_saves() -> None:
    assert optimized.summarise([]) == ({}, {})


def test_removing_an_empty_leftover_name_removes_nothing_and_raises_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("kept").write_text("x")
    optimized._remove_if_present("")
    assert os.listdir(".") == ["kept"]


# --- comparing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("results_key", [".", "/", "//", "results", "a/b", "/abs/results", "./rel"])
@pytest.mark.parametrize("run_id", ["run-b", "r", "run with spaces", "é"])
def test_the_other_runs_cache_key_is_spelled_as_str_of_the_pathlib_join(results_key: str, run_id: str) -> None:
    """compare_runs finds a summary cached by the other run's own store only under exactly this key."""
    key = str(Path(results_key))  # what __init__ keeps
    assert optimized._summary_key_in(key, run_id) == str(Path(results_key) / run_id / SUMMARY)
