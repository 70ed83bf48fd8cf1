"""Reports: the main job's table, results/REPORT.md with its plots, and the claims it judges."""
