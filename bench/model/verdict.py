"""What a gate decides about one benchmark: an enum, so no caller parses a string back."""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    REGRESSED = "regressed"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"  # the interval reaches across a limit: more processes are pooled
    MISSING = "missing"  # in the saved ratios but not measured now
    UNSAVED = "unsaved"  # measured now but not in the saved ratios
    ANSWERS_DIFFER = "answers differ"  # its store method answers otherwise than the frozen original: no speed-up

    @property
    def fails(self) -> bool:
        return self in (Verdict.REGRESSED, Verdict.MISSING, Verdict.UNSAVED, Verdict.ANSWERS_DIFFER)

    @property
    def shown(self) -> str:
        """As the gate prints it: REGRESSED, ANSWERS DIFFER."""
        return self.name.replace("_", " ")
