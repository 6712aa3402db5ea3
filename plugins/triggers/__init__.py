"""Triggers (run in the triggerer) for deferrable operators."""
