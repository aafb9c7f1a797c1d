"""kbc-tui: Keboola-style orchestrations in the terminal."""

__version__ = "0.1.0"
