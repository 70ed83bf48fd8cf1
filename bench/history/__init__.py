"""History: a point per commit, change points over the points (E-Divisive), and bisect between two commits."""
