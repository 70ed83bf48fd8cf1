"""The mutation tool places every mutant in a reformatted storage/optimized.py, or names the one it cannot.

ruff format keeps the syntax tree, so a mutant placed in the reformatted file must give the same tree as
the mutant placed in the file as it is: the same change, wherever the formatter broke the lines.
"""

from __future__ import annotations

import ast
import shutil
import subprocess

import pytest

from tests.mutation import MUTANTS, REPO, TARGET, Mutant, UnplacedMutant

SOURCE = (REPO / TARGET).read_text()


def _reformatted(line_length: int) -> str:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (the lint extra)")
    command = [ruff, "format", "--line-length", str(line_length), "--stdin-filename", TARGET.name, "-"]
    return subprocess.run(command, input=SOURCE, capture_output=True, text=True, check=True).stdout


def test_each_mutant_changes_the_file_as_it_is_exactly_as_its_text_says() -> None:
    for mutant in MUTANTS:
        expected = SOURCE
        for old, new in mutant.edits:
            expected = expected.replace(old, new)
        assert mutant.apply(SOURCE) == expected != SOURCE, mutant.name


@pytest.mark.parametrize("line_length", [88, 100])
def test_each_mutant_makes_the_same_change_in_a_reformatted_file(line_length: int) -> None:
    reformatted = _reformatted(line_length)
    assert reformatted != SOURCE  # the formatter really moved lines
    assert ast.dump(ast.parse(reformatted)) == ast.dump(ast.parse(SOURCE))
    for mutant in MUTANTS:
        assert ast.dump(ast.parse(mutant.apply(reformatted))) == ast.dump(ast.parse(mutant.apply(SOURCE))), mutant.name


def test_a_mutant_the_file_no_longer_holds_is_named() -> None:
    gone = Mutant("no-such-code", "a change of code that is not there", (("frobnicate(results)", "pass"),))
    with pytest.raises(UnplacedMutant, match="mutant no-such-code: 'frobnicate\\(results\\)' occurs 0 times"):
        gone.apply(SOURCE)


def test_a_mutant_whose_result_would_not_parse_is_named() -> None:
    broken = Mutant("unbalanced", "leaves a bracket open", (("names.sort(reverse=True)", "names.sort(("),))
    with pytest.raises(UnplacedMutant, match=r"mutant unbalanced: placed in .*does not parse"):
        broken.apply(SOURCE)
