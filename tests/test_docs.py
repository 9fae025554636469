"""The docs name tests that exist: a promise in docs/reliability.md is only as good as its test."""
from __future__ import annotations

import ast
import re

from .conftest import REPO


def test_every_test_named_in_the_reliability_page_exists():
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", (REPO / "docs" / "reliability.md").read_text()))
    assert len(named) >= 30
    for module, name in sorted(named):
        tree = ast.parse((REPO / "tests" / module).read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"docs/reliability.md names {module}::{name}, which does not exist"
