"""The floors: strategies -> runtime -> calibration -> router, no import upwards.

Why a test: a misplaced import compiles and runs, and the layering erodes one convenient
line at a time (before the runtime package, 25 of router/'s modules imported calibration/
and the model-free stopping rules imported a fitted-model module for one type).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("strategies", "runtime", "calibration", "router")
# ttc evaluate's harness and its reports compare the router with the calibration's fixed
# strategies, and the commands load the artifact: those may read calibration/. The
# routing itself (policies, rounds, solver, serve) may only be handed a loaded artifact.
ROUTER_READS_CALIBRATION = {
    "router/commands": {"calibration.store.artifact"},
    "router/setup.py": {"calibration.store.artifact"},
    "router/solver.py": {"calibration.store.artifact"},
    "router/evaluation": {
        "calibration.analysis.table",
        "calibration.analysis.expected_oracle",
        "calibration.sampling.strategy_plan",
        "calibration.store.evaluation_records",
        "calibration.strategy_names",
    },
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("floor", FLOORS)
def test_no_floor_imports_a_floor_above_it(floor):
    above = FLOORS[FLOORS.index(floor) + 1 :]
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules_of(floor)
        for name in imported_modules(path)
        if name.split(".")[0] in above
    ]
    assert wrong == []


def test_the_router_reads_calibration_only_where_listed():
    wrong = []
    for path in modules_of("router"):
        relative = path.relative_to(ROOT).as_posix()
        allowed = next(
            (
                names
                for prefix, names in ROUTER_READS_CALIBRATION.items()
                if relative.startswith(prefix)
            ),
            set(),
        )
        wrong += [
            f"{relative} imports {name}"
            for name in imported_modules(path)
            if name.split(".")[0] == "calibration" and name not in allowed
        ]
    assert wrong == []


def test_the_routing_itself_never_imports_calibration():
    routing = [*modules_of("router/policies"), *modules_of("router/serve")]
    routing += [ROOT / "router" / name for name in ("rounds.py", "execution.py", "recording.py")]
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in routing
        for name in imported_modules(path)
        if name.split(".")[0] == "calibration"
    ]
    assert wrong == []
