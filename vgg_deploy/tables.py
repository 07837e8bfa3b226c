"""Markdown tables, the one way every report (bench, zoo, sensitivity, loadtest) writes them."""

from __future__ import annotations

__all__ = ["md_table"]


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table; `|` and newlines inside cells are escaped so a cell stays one cell."""
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines
