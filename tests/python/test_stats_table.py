"""The core's stats table (the one declaration of every counter, gauge and
state) against the Python surface, which is written by hand: the classes'
attributes and their docs, the stub's names and docstrings, and the values
``Stats`` copies from the core. A field missing on a surface, or documented
differently (a surface may add a remark after the table's text), fails here."""

import ast
import inspect
from pathlib import Path
from typing import Any, Dict, List

from pierhead import _pierhead

GROUPS = ("Stats", "BackplaneStats")


def words(text: str) -> str:
    return " ".join(text.split())


def table(group: str) -> List[Dict[str, Any]]:
    return [row for row in _pierhead._stats_table() if row["group"] == group]


def stub_properties(group: str) -> Dict[str, str]:
    """The properties of class `group` in the installed stub, with their docstrings."""
    stub = Path(_pierhead.__file__).with_name("_pierhead.pyi")
    if not stub.exists():  # an editable install: the source tree's
        stub = Path(__file__).resolve().parents[2] / "python" / "pierhead" / "_pierhead.pyi"
    tree = ast.parse(stub.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == group)
    return {
        f.name: ast.get_docstring(f) or ""
        for f in cls.body
        if isinstance(f, ast.FunctionDef) and any(isinstance(d, ast.Name) and d.id == "property" for d in f.decorator_list)
    }


def runtime_properties(group: str) -> Dict[str, str]:
    """The attributes of the extension's class `group`, with their docs."""
    cls = getattr(_pierhead, group)
    return {
        name: inspect.getdoc(value) or ""
        for name, value in vars(cls).items()
        if not name.startswith("_") and inspect.isgetsetdescriptor(value)
    }


def test_the_table_lists_every_figure():
    names = {row["name"] for row in table("Stats")}
    assert {"requests", "responses", "connections_active", "backplane", "uptime"} <= names
    assert {"published", "unconfirmed", "echoes_dropped", "down_time"} <= {row["name"] for row in table("BackplaneStats")}


def test_the_classes_have_every_field_of_the_table_documented_alike():
    for group in GROUPS:
        runtime = runtime_properties(group)
        rows = table(group)
        assert sorted(runtime) == sorted(row["name"] for row in rows), group
        for row in rows:
            got, want = words(runtime[row["name"]]), words(row["doc"])
            assert got.startswith(want), f"{group}.{row['name']} is documented differently:\n  class: {got}\n  table: {want}"


def test_the_stub_has_every_field_of_the_table_documented_alike():
    for group in GROUPS:
        stub = stub_properties(group)
        rows = table(group)
        assert [name for name in stub] == [row["name"] for row in rows], f"{group}: the stub's properties"
        for row in rows:
            got, want = words(stub[row["name"]]), words(row["doc"])
            assert got.startswith(want), f"{group}.{row['name']} in the stub:\n  stub:  {got}\n  table: {want}"


def test_stats_copies_each_figure_from_the_core():
    example = _pierhead._stats_example()
    assert isinstance(example.backplane, _pierhead.BackplaneStats)
    for row in _pierhead._stats_table():
        holder = example if row["group"] == "Stats" else example.backplane
        if row["name"] == "backplane":
            continue
        assert getattr(holder, row["name"]) == row["example"], f"{row['group']}.{row['name']}"
    values = [row["example"] for row in _pierhead._stats_table() if row["kind"] in ("counter", "gauge")]
    assert len(set(values)) == len(values), "the example's figures all differ"
