"""The kit's edition of the self-checks: the package ``course_utils/selfcheck/`` without its
reference answers.

Every private function that computes a graded answer for a self-check
(``STORED_REFERENCES``, the factories of ``STORED_FACTORIES``, and the inline reference
formulas of ``_Check``/``_variant_check`` calls) is replaced, in the module that defines it,
by a lookup into the stored outputs (``course_utils/_selfcheck_store.py``, the text of
:mod:`autograder.student_kit.store`); ``UNAVAILABLE_REFERENCES`` by code that says the
self-check is not available in the kit. The recording edition replaces the same
definitions by wrappers that record the full library's outputs (:mod:`.recording`).

The package is handled as ``{module name: source}``, e.g. ``{"overlap": "..."}``
(:func:`read_selfcheck_sources`).
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.source_rewrite import definitions, replace_definitions
from autograder.student_kit.errors import KitError

SELFCHECK_FOLDER = Path("course_utils") / "selfcheck"

# Private functions of the package course_utils/selfcheck/ that compute a graded answer (or hold
# its body), replaced in the kit by a lookup into stored outputs.
STORED_REFERENCES = (
    "_conv_size_reference", "_transpose_reference", "_fcn_shapes_reference",
    "_dice_reference", "_iou_reference",
    "_soft_dice_numpy",          # the soft Dice reference; its flags make the mistakes
    "_weighted_ce_numpy",        # the weighted cross-entropy reference, with flags
    "_pool_reference",
    "_pool_column_major", "_pool_last_on_ties",   # copies of _pool_reference's body, one line changed
    "_unpool_reference", "_pool_size_reference",
    "_bottleneck_reference", "_decoded_reference", "_padded_reference", "_conv_params_reference",
    "_skip_table_reference", "_patches_reference", "_sliding_reference", "_predict_fcn_reference",
    "_sliding_windows_reference",  # the traffic-light windows; its flags make the mistakes
    "_transpose_numpy_reference", "_unet_bottleneck_reference",
    "_mean_iou_reference", "_class_weights_reference",
    "_one_hot_reference", "_labels_from_scores_reference", "_multi_label_reference",
    "_decode_multi_label_reference",
)

# Factories of known-wrong versions whose body, with its default flags, is a correct
# answer: each function they make answers from stored outputs too (keyed by the flags).
STORED_FACTORIES = (
    "_mean_iou_variant",         # with no flag set it is a correct mean IoU
    # dataset_formats, instance_panoptic, transfer_learning: each check's reference is its
    # factory with no flag set (formats.py, instances.py, transfer.py)
    "_train_ids_variant", "_palette_variant", "_decode_variant", "_frequencies_variant",
    "_iou_matrix_variant", "_matching_variant", "_merge_variant", "_pq_variant", "_report_variant",
)

# References that cannot be stored, and what the kit's self-check says instead.
UNAVAILABLE_REFERENCES = {
    "_reference_unet": (
        "this part of the self-check is not available in the student kit: it compares your U-Net, "
        "layer by layer and with the same weights, with a reference model that the kit does not ship. "
        "The checks before it (building, output shape, softmax, transposed convolutions) ran; the "
        "visible test cell below checks your model"),
}

# Private functions of the self-checks whose names look like references but are not answers:
# known-wrong versions of a function (each call site passes the mistake), fakes of a
# network or classifier that the checks hand to the student's function, and helpers.
NOT_REFERENCES = (
    "_conv_size_variant", "_transpose_variant", "_fcn_shapes_variant", "_overlap_variant",
    "_unpool_swapped", "_table_check_variant", "_CentreClassifier",
    "_PositionalNetwork", "_softmax", "_kernel_area", "_counts", "_table_numbers", "_to_numpy",
)

# The calls whose third argument (or ``reference=``) is the reference of a check.
_CHECK_CONSTRUCTORS = ("_Check", "_variant_check")

# Self-checks that do not go through _run_check and call no stored reference (model
# checks, which need Keras): the recording leaves them out. The one model check that
# calls a stored reference, check_predict_sliding_window, is driven by _drive_all_checks.
_MODEL_CHECKS_WITHOUT_STORED_REFERENCES = (
    "check_fcn_upscaling", "check_fcn_skip_upscaling", "check_fcn_transposed_skip",
    "check_double_conv", "check_build_unet", "check_train_unet",
    "check_build_encoder", "check_build_transfer_fcn", "check_fine_tune",
)


def _inline_references(source: str) -> list[tuple[str, ast.Lambda]]:
    """(check name, lambda) of every check built with an inline reference formula: a
    lambda given as the reference of ``_Check``/``_variant_check`` that calls nothing (a
    lambda that only calls a stored reference needs no replacement)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _CHECK_CONSTRUCTORS):
            continue
        reference = node.args[2] if len(node.args) > 2 else next(
            (k.value for k in node.keywords if k.arg == "reference"), None)
        if not isinstance(reference, ast.Lambda) or any(isinstance(n, ast.Call) for n in ast.walk(reference.body)):
            continue
        if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            raise KitError(f"a check with an inline reference at line {node.lineno} has no literal name")
        found.append((node.args[0].value, reference))
    return found


def _replace_lambdas(source: str, replacement) -> str:
    """``source`` with each inline reference lambda replaced by ``replacement(check name, text)``."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    data = source.encode()
    spans = []
    for name, node in _inline_references(source):
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        spans.append((start, end, name))
    for start, end, name in sorted(spans, reverse=True):
        text = data[start:end].decode()
        data = data[:start] + replacement(name, text).encode() + data[end:]
    result = data.decode()
    ast.parse(result)
    return result


def read_selfcheck_sources(course_root: Path) -> dict[str, str]:
    """``{module name: source}`` of the package ``course_utils/selfcheck/`` of ``course_root``."""
    folder = Path(course_root) / SELFCHECK_FOLDER
    sources = {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py"))}
    if "__init__" not in sources:
        raise KitError(f"{folder} is not the self-checks' package (no __init__.py): update autograder/student_kit")
    return sources


def _defining_modules(sources: dict[str, str]) -> dict[str, str]:
    """Top-level name -> the module that defines it (a name defined twice is an error)."""
    where: dict[str, str] = {}
    for module, source in sources.items():
        for name in definitions(source):
            if "." in name:
                continue
            if name in where:
                raise KitError(f"course_utils/selfcheck: {name} is defined in both {where[name]} and {module}")
            where[name] = module
    return where


def _classify(sources: dict[str, str]) -> None:
    """Every private function of the self-checks named like a reference must be classified."""
    names = set(_defining_modules(sources))
    replaced = set(STORED_REFERENCES) | set(STORED_FACTORIES) | set(UNAVAILABLE_REFERENCES)
    known = replaced | set(NOT_REFERENCES)
    missing = sorted(replaced - names)
    if missing:
        raise KitError(f"course_utils/selfcheck no longer defines {', '.join(missing)}: "
                       "update autograder/student_kit/selfcheck_edition.py")
    unclassified = sorted(n for n in names if n.startswith("_") and n not in known
                          and ("reference" in n or n.endswith(("_variant", "_numpy"))))
    if unclassified:
        raise KitError(f"course_utils/selfcheck defines {', '.join(unclassified)}: say in "
                       "autograder/student_kit/selfcheck_edition.py whether each is a reference "
                       "(STORED_REFERENCES, STORED_FACTORIES, UNAVAILABLE_REFERENCES) or not (NOT_REFERENCES)")


def _kit_replacement(name: str) -> str:
    """The code that stands in the kit for the reference ``name``."""
    if name in STORED_FACTORIES:
        return (f"def {name}(*factory_args, **factory_kwargs):\n"
                f'    """A known-wrong version answering from stored outputs (the kit does not ship its body)."""\n'
                f"    return _kit_stored_function(_kit_factory_name({name!r}, factory_args, factory_kwargs))\n")
    if name in UNAVAILABLE_REFERENCES:
        return (f"def {name}(*args, **kwargs):\n"
                f'    """Not in the student kit: the self-check says so."""\n'
                f"    raise _SelfCheckNotInKit({UNAVAILABLE_REFERENCES[name]!r})\n")
    return (f"def {name}(*args, **kwargs):\n"
            f'    """Stored outputs of a self-check reference (the student kit does not ship it)."""\n'
            f"    return _kit_stored_value({name!r}, args, kwargs)\n")


# What the kit's modules import from the store, by the name they use.
_STORE_IMPORTS = {"_SelfCheckNotInKit": "SelfCheckNotInKit", "_kit_factory_name": "factory_name",
                  "_kit_stored_function": "stored_function", "_kit_stored_value": "stored_value"}


def _edit_modules(sources: dict[str, str], replacement, lambda_replacement) -> dict[str, str]:
    """``sources`` with every reference replaced in its module (``replacement(name, original
    code)``) and every inline reference lambda (``lambda_replacement(check name, text)``)."""
    found = _defining_modules(sources)
    edited = {}
    for module, source in sources.items():
        lines = source.splitlines(keepends=True)
        nodes = definitions(source)
        replacements = {}
        for name in (*STORED_REFERENCES, *STORED_FACTORIES, *UNAVAILABLE_REFERENCES):
            if found.get(name) == module:
                node = nodes[name]
                replacements[name] = replacement(name, "".join(lines[node.lineno - 1:node.end_lineno]))
        text = replace_definitions(source, replacements) if replacements else source
        edited[module] = _replace_lambdas(text, lambda_replacement) if _inline_references(text) else text
    return edited


def kit_edition(sources: dict[str, str]) -> dict[str, str]:
    """The kit's self-check modules: references replaced by lookups or by 'not available'
    (a module without references stays as it is)."""
    edited = _edit_modules(sources, lambda name, original: _kit_replacement(name),
                           lambda name, text: f"_kit_stored_function({('lambda:' + name)!r})")
    for module, text in edited.items():
        used = [name for name in _STORE_IMPORTS if name in text and name not in sources[module]]
        if used:
            edited[module] = _insert_after_imports(text, (
                "# Student kit: the self-checks' references are replaced by stored outputs.\n"
                + "".join(f"from course_utils._selfcheck_store import {_STORE_IMPORTS[name]} as {name}  # noqa: E402\n"
                          for name in used)))
    return edited


def _recording_replacement(name: str, original: str) -> str:
    """``original`` renamed ``_kit_original_<name>``, behind a wrapper that records its outputs
    (``_kit_record`` and ``_kit_recorded_function``, given by the recording run)."""
    keyword = "class " if original.lstrip().startswith("class ") else "def "
    renamed = original.replace(f"{keyword}{name}", f"{keyword}_kit_original_{name}", 1)
    wrapper = (f"def {name}(*args, **kwargs):\n"
               f"    return _kit_record({name!r}, _kit_original_{name}, args, kwargs)\n")
    if name in STORED_FACTORIES:
        wrapper = (f"def {name}(*factory_args, **factory_kwargs):\n"
                   f"    return _kit_recorded_function(_kit_factory_name({name!r}, factory_args, factory_kwargs),\n"
                   f"                                  _kit_original_{name}(*factory_args, **factory_kwargs))\n")
    return f"{renamed.rstrip()}\n\n\n{wrapper}"


def recording_edition(sources: dict[str, str]) -> dict[str, str]:
    """The self-check modules with each stored reference (and factory) recording its outputs;
    the unavailable ones stay as they are (the recording leaves their checks out)."""
    recorded = set(STORED_REFERENCES) | set(STORED_FACTORIES)
    return _edit_modules(
        sources, lambda name, original: _recording_replacement(name, original) if name in recorded else original,
        lambda name, text: f"_kit_recorded_function({('lambda:' + name)!r}, {text})")


def inline_reference_names(sources: dict[str, str]) -> list[str]:
    """The checks built with an inline reference formula, in every module."""
    return [name for source in sources.values() for name, _ in _inline_references(source)]


def _insert_after_imports(source: str, text: str) -> str:
    tree = ast.parse(source)
    last = max(node.end_lineno for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    lines = source.splitlines(keepends=True)
    return "".join(lines[:last]) + text + "".join(lines[last:])
