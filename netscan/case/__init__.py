"""Casework: a store of cases, sites and visits; diffs between visits; analyst overrides."""
