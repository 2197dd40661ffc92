"""CLI commands that need the assistant: ask, serve (registered by cli.build_parser)."""
from __future__ import annotations


def add_commands(sub, add_filters) -> None:
    pass
