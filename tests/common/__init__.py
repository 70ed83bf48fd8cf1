"""Test helpers shared by every suite: strategies, the differential harness, candidates built to fail, workers."""
