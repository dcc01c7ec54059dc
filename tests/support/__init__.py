"""Test support: simulated carriers and modems, shared helpers."""
