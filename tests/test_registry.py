"""The one registry idiom: registration, lazy loading, did-you-mean errors."""

from __future__ import annotations

import pytest

from strategies.registry import DuplicateNameError, Registry, UnknownNameError


def test_register_decorator_returns_the_class_and_finds_it():
    shapes: Registry[type] = Registry("shape")

    @shapes.register("square", summary="four equal sides")
    class Square:
        pass

    assert shapes.get("square") is Square
    assert shapes.names() == ("square",)
    assert shapes.summary("square") == "four equal sides"
    assert "square" in shapes and "circle" not in shapes


def test_unknown_name_suggests_the_closest_and_lists_the_known():
    shapes: Registry[int] = Registry("shape")
    shapes.add("square", 4)
    shapes.add("triangle", 3)
    with pytest.raises(UnknownNameError, match=r"unknown shape 'squre'; did you mean 'square'\?"):
        shapes.get("squre")
    with pytest.raises(ValueError, match="known: square, triangle"):
        shapes.get("hexagon")


def test_a_name_registered_twice_is_refused():
    shapes: Registry[int] = Registry("shape")
    shapes.add("square", 4)
    with pytest.raises(DuplicateNameError):
        shapes.add("square", 5)


def test_lazy_entries_import_only_when_asked():
    lazy: Registry[object] = Registry("thing")
    lazy.register_lazy("dedent", "textwrap:dedent")
    lazy.register_lazy("broken", "no_such_module_anywhere:thing")
    import textwrap

    assert lazy.get("dedent") is textwrap.dedent
    with pytest.raises(ModuleNotFoundError):
        lazy.get("broken")
    with pytest.raises(ValueError, match="module:name"):
        lazy.register_lazy("bad", "textwrap.dedent")


def test_a_plugin_package_registers_every_module_on_first_lookup(tmp_path, monkeypatch):
    package = tmp_path / "shape_plugins"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from strategies.registry import Registry\nSHAPES = Registry('shape', "
        "plugins='shape_plugins')\n"
    )
    for name, sides in (("square", 4), ("triangle", 3)):
        (package / f"{name}.py").write_text(
            f"from shape_plugins import SHAPES\nSHAPES.add({name!r}, {sides})\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    shapes = importlib.import_module("shape_plugins").SHAPES
    assert shapes.get("triangle") == 3  # no module imported it: discovery did
    assert shapes.names() == ("square", "triangle")
    with pytest.raises(UnknownNameError, match="did you mean 'square'"):
        shapes.get("squar")


def test_every_budget_policy_module_is_found_without_an_import_line():
    from router.policies import POLICIES, parse_policy

    assert {"auto", "price", "total", "beta", "esc", "margin"} <= set(POLICIES.names())
    assert str(parse_policy("esc:8")) == "esc:8"
