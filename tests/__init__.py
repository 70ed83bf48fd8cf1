"""The tests: a package, so its helpers are imported by full name (tests.common.x), as Hypothesis does."""
