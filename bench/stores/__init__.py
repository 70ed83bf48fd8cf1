"""Where a store comes from: a registered name, the deployed layout, or a module read at a git revision (or from a
work tree) with everything it imports, loaded beside every other and checked that it can serve."""
