"""The composition root: the one settings model, the wiring that builds backends from it, and log set-up."""
