"""Runtime families."""
