"""Subcommands of `python -m edge` (see edge.cli)."""
