"""Makes ``import pytest_httpserver`` (and its submodules) give pierhead.httpserver,
so that pytest-httpserver's own test suite runs unchanged against pierhead."""

import importlib
import sys

import pierhead.httpserver as _compat

for _name in ("httpserver", "hooks", "pytest_plugin", "bake", "blocking_httpserver"):
    sys.modules[f"pytest_httpserver.{_name}"] = importlib.import_module(f"pierhead.httpserver.{_name}")
sys.modules["pytest_httpserver"] = _compat
