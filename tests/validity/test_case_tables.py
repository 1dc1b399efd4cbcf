"""The visible test cells of the notebooks and the trusted visible checks list the same cases.

Where a visible test cell of ``solutions/<assignment>/<assignment>.ipynb`` writes its cases
as a table (``cases = [...]``) and the trusted check of ``autograder/references`` has the
same table, the notebook's table is read from the cell's source (``ast``, nothing is run)
and compared with the trusted one: a case edited in one place and not the other fails here.
In the notebook a function is written by name (``conv_output_size``) and a call as
``f(args)``; they are read as the name and as ``(name, args, kwargs)``.
"""

from __future__ import annotations

import ast
import operator

import nbformat
import pytest

from autograder.references import dimensions, fcn_basics, sliding_window_vs_fcn
from tests import REPO_ROOT

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
              ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod}


def table_value(node: ast.AST):
    """The value of a table written in a notebook cell: literals, arithmetic on numbers,
    a name as its text, a call ``f(*args, **kwargs)`` as ``(f, args, kwargs)``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [table_value(item) for item in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        return {table_value(key): table_value(item) for key, item in zip(node.keys, node.values)}
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](table_value(node.left), table_value(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -table_value(node.operand)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return (node.func.id, tuple(table_value(a) for a in node.args),
                {k.arg: table_value(k.value) for k in node.keywords})
    raise ValueError(f"not a table value: {ast.unparse(node)}")


def notebook_table(assignment: str, grade_id: str, variable: str):
    """The value assigned to ``variable`` in the grade cell ``grade_id`` of the solution notebook."""
    notebook = nbformat.read(REPO_ROOT / f"solutions/{assignment}/{assignment}.ipynb", as_version=4)
    cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(cells) == 1, f"{assignment}: no grade cell {grade_id!r}"
    for node in ast.walk(ast.parse(cells[0].source)):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            return table_value(node.value)
    raise AssertionError(f"{assignment} {grade_id}: no `{variable} = ...` in the cell")


def _call_cases(rows):
    """Notebook rows (text, f(*args, **kwargs), *rest) as (text, f, args, kwargs, *rest)."""
    return [(text, call[0], call[1], call[2], *rest) for text, call, *rest in rows]


# (assignment, grade cell, notebook variable, the trusted table, how a notebook row is read)
TABLES = [
    ("fcn_basics", "test_encoding_visible", "label_map", fcn_basics.ENCODING_LABEL_MAP, list),
    ("fcn_basics", "test_encoding_visible", "class_scores", fcn_basics.ENCODING_SCORES, list),
    ("fcn_basics", "test_encoding_visible", "expected_labels", fcn_basics.ENCODING_SCORE_LABELS, list),
    ("fcn_basics", "test_multi_label_visible", "extended_labels", fcn_basics.MULTI_LABEL_MAP, list),
    ("fcn_basics", "test_multi_label_visible", "lecture_channels", fcn_basics.LECTURE_CHANNELS, list),
    ("fcn_basics", "test_multi_label_visible", "expected_mask", fcn_basics.MULTI_LABEL_EXPECTED, list),
    ("fcn_basics", "test_multi_label_visible", "pixel_probabilities", fcn_basics.PIXEL_PROBABILITIES, list),
    ("fcn_basics", "test_multi_label_visible", "expected_decoded", fcn_basics.DECODED_EXPECTED, list),
    ("fcn_basics", "test_layer_shapes_visible", "expected_shapes", fcn_basics.LAYER_SHAPE_EXAMPLES, list),
    ("fcn_basics", "test_fcn_visible", "slide_kernels", fcn_basics.SLIDE_KERNELS, list),
    ("dimensions", "test_sizes_visible", "cases", dimensions.SIZE_CASES, list),
    ("dimensions", "test_transpose_size_visible", "cases", dimensions.TRANSPOSE_CASES, list),
    ("dimensions", "test_bottleneck_visible", "checks", dimensions.BOTTLENECK_CASES,
     lambda rows: [(text, name, args, want) for text, name, args, _, want in _call_cases(rows)]),
    ("dimensions", "test_params_visible", "checks", dimensions.PARAM_CASES, _call_cases),
    ("dimensions", "test_table_visible", "expected_names", dimensions.NAMES, list),
    ("dimensions", "test_table_visible", "expected_rows", dimensions.TABLE_ROWS, dict),
    ("sliding_window_vs_fcn", "test_patches_visible", "expected_centers", sliding_window_vs_fcn.PATCH_CENTRES, list),
    ("sliding_window_vs_fcn", "test_traffic_windows_visible", "first_boxes", sliding_window_vs_fcn.TRAFFIC_FIRST_BOXES,
     list),
]


@pytest.mark.parametrize(("assignment", "grade_id", "variable", "trusted", "read"), TABLES,
                         ids=[f"{a}-{g}-{v}" for a, g, v, *_ in TABLES])
def test_visible_cases_agree(assignment, grade_id, variable, trusted, read):
    in_notebook = read(notebook_table(assignment, grade_id, variable))
    assert in_notebook == list(trusted) if isinstance(trusted, list) else in_notebook == trusted, (
        f"{assignment}: the cases of {grade_id} ({variable}) and of the trusted check differ:\n"
        f"notebook: {in_notebook}\ntrusted:  {trusted}")


def test_table_value_reads_calls_and_arithmetic():
    node = ast.parse('[("f(2)", f(2, k=3), (256 // 16, -1), conv_output_size)]').body[0].value
    assert table_value(node) == [("f(2)", ("f", (2,), {"k": 3}), (16, -1), "conv_output_size")]
    with pytest.raises(ValueError):
        table_value(ast.parse("x.y").body[0].value)
