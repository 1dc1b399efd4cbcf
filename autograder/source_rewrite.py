"""Rewrite Python source: replace whole definitions (functions, classes) by their qualified name.

Used to make editions of the course library from its source, e.g. the grading edition
(no function that computes a graded answer) and the student kit (no self-check reference
answers). Works on text, never imports or runs the module it rewrites.

    new = replace_definitions(source, {"dice_coefficient": "def dice_coefficient(*a, **k):\\n    raise X\\n"})
"""

from __future__ import annotations

import ast
import textwrap


class DefinitionNotFound(KeyError):
    """A qualified name that the source does not define."""


def definitions(source: str) -> dict[str, ast.AST]:
    """Every function and class of ``source`` by qualified name (``Outer.method``)."""
    found: dict[str, ast.AST] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                found.setdefault(name, child)          # the first definition wins, as at import
                visit(child, f"{name}.")
            elif isinstance(child, ast.stmt):          # if / try / with blocks at this level
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def replace_definitions(source: str, replacements: dict[str, str]) -> str:
    """``source`` with each named definition (decorators included) replaced by new code.

    Args:
        source: the text of a Python module.
        replacements: qualified name -> the code that stands in its place, written at
            column 0 (it is indented like the definition it replaces).
    Returns:
        The rewritten source. Raises ``DefinitionNotFound`` naming every qualified name
        the source does not define, and ``SyntaxError`` if the result does not parse.
    """
    found = definitions(source)
    missing = sorted(set(replacements) - set(found))
    if missing:
        raise DefinitionNotFound(f"not defined in the source: {', '.join(missing)}")
    lines = source.splitlines(keepends=True)
    spans = []
    for name, code in replacements.items():
        node = found[name]
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        spans.append((first - 1, node.end_lineno, node.col_offset, code))
    spans.sort(reverse=True)                      # bottom-up: earlier line numbers stay valid
    for (_, end, _, _), (next_start, _, _, _) in zip(spans[1:], spans):   # each with the one below it
        if end > next_start:
            raise ValueError("nested definitions cannot both be replaced")
    for start, end, column, code in spans:
        text = textwrap.indent(textwrap.dedent(code).rstrip("\n") + "\n", " " * column)
        lines[start:end] = [text]
    result = "".join(lines)
    ast.parse(result)
    return result
