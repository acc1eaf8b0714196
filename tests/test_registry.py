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
