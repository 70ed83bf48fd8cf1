"""The gate: the A/B decision rule, the saved-ratio check, planted regressions and the gate's calibration."""
