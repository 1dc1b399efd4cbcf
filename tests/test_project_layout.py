"""The layout the course promises: the library stays independent of the grader."""

import ast

import yaml

from tests import REPO_ROOT


def test_course_utils_never_imports_autograder():
    for module in (REPO_ROOT / "course_utils").rglob("*.py"):  # subpackages too (datasets/)
        tree = ast.parse(module.read_text())
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [name for name in imported if name.split(".")[0] == "autograder"], module.name


def test_environment_yml_installs_the_project():
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_part = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert "-e .[test]" in pip_part
    assert any(str(dep).startswith("python>=3.11") for dep in environment["dependencies"])


def test_runtime_grading_folders_are_ignored_by_git():
    ignored = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert ".grading/" in ignored and ".venv/" in ignored
