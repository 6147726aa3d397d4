"""The apps depend one way: project.errors, validators <- accounts <- chat, search, files
<- realtime.

A lower layer that imported a higher one would make the two one tangle; these
read every module's imports (top level and inside functions) and fail on one
that points up.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def pointing_at(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in imported_modules(package).items()
        for name in sorted(names)
        if name.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize(
    ("package", "above"),
    [
        ("accounts", ("chat", "search", "files", "realtime")),
        ("chat", ("realtime",)),
        ("files", ("realtime",)),
        ("search", ("realtime",)),
    ],
)
def test_a_lower_app_never_imports_a_higher_one(package: str, above: tuple[str, ...]) -> None:
    assert pointing_at(package, above) == []


def test_the_shared_error_module_is_a_leaf() -> None:
    names = imported_modules("project")["project/errors.py"]
    assert {name.split(".")[0] for name in names} <= {"typing", "ninja"}


def test_metrics_is_a_leaf() -> None:
    """Each gauge is registered by the module that owns its number, not reached from here."""
    names = imported_modules("chat")["chat/metrics.py"]
    assert {name.split(".")[0] for name in names} <= {
        "time",
        "bisect",
        "collections",
        "prometheus_client",
    }


def test_the_validators_are_a_leaf() -> None:
    """accounts uses them too, so they may not import chat (nor anything of ours but errors)."""
    assert imported_modules("project")["project/validators.py"] <= {
        "re",
        "typing",
        "project.errors",
    }


@pytest.mark.parametrize(
    "module", ["chat/events.py", "chat/payloads.py", "chat/selectors.py", "project/validators.py"]
)
def test_no_import_hides_inside_a_function(module: str) -> None:
    """Every service imports chat.events: an import inside one of its functions would
    hide a cycle (it once reached up into selectors, presence and workers that way)."""
    path = ROOT / module
    late = [
        f"{module}:{node.lineno} {ast.unparse(node)}"
        for function in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert late == []


def test_no_bench_script_hides_an_app_of_the_product() -> None:
    """bench/ scripts run with bench/ first on sys.path: a bench/search.py once made
    the product's replicas import it instead of the search app."""
    apps = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")}
    assert apps & scripts == set()
