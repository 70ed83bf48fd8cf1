"""The model, the bottom layer: operations (one table), fixtures, candidates, statistics, verdicts, saved files."""
