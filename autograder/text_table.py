"""Plain-text tables for the terminal (the batch summary, the score table)."""

from __future__ import annotations


def text_table(rows: list[list[str]]) -> str:
    """``rows[0]`` as the header, a line of dashes under it, every column left-aligned to
    its widest cell; trailing spaces stripped."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
