"""Tests of the stores: the frozen original, the optimized and proposed stores, their equivalence, their reliability."""
