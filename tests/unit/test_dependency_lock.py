"""The lock files agree with pyproject.toml, and the venv runs what they lock.

`make install`, `.ci/run` and the Dockerfile install from the hashed locks
(`make lock` rewrites them). A bound raised in pyproject.toml without `make lock`,
or a lock edited by hand, would test one set of libraries and ship another:
these fail first.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def locked(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {canonicalize_name(pkg): version for pkg, version in PIN.findall(text)}


def requirements(*, dev: bool) -> list[Requirement]:
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    if dev:
        found += [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]
    return found


@pytest.mark.parametrize(
    ("lock", "dev"), [("requirements.lock", False), ("requirements-dev.lock", True)]
)
def test_every_dependency_is_locked_within_its_bounds(lock: str, dev: bool) -> None:
    pins = locked(lock)
    wrong = {
        str(req): pins.get(canonicalize_name(req.name))
        for req in requirements(dev=dev)
        if pins.get(canonicalize_name(req.name)) not in req.specifier
    }
    assert wrong == {}, f"run `make lock`: {lock} does not satisfy pyproject.toml"


def test_every_lock_line_carries_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        unhashed = [
            entry.split()[0] for entry in entries if "==" in entry and "--hash=" not in entry
        ]
        assert unhashed == [], f"{lock}: pins without hashes"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    """requirements.lock is compiled with the dev lock as constraints: one version each."""
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v} == {}


def test_the_venv_runs_exactly_what_is_locked() -> None:
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    differ = {
        name: (version, installed.get(name))
        for name, version in locked("requirements-dev.lock").items()
        if installed.get(name) != version
    }
    assert differ == {}, "the venv differs from requirements-dev.lock: run `make install`"
