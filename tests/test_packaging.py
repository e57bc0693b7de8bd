"""pyproject.toml is the single source of dependencies; environment.yml must mirror it exactly."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
NOT_PACKAGES = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    """'Scikit_Learn >= 1.4' -> ('scikit-learn', '>=1.4'): PEP 503 name and the version spec without spaces."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(2).replace(" ", "")


def pyproject_requirements(text: str) -> dict[str, str]:
    """All runtime and optional requirements of a pyproject.toml text, by normalised name."""
    project = tomllib.loads(text)["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def environment_requirements(text: str) -> dict[str, str]:
    """Conda and pip requirements of an environment.yml text (minus python, pip and the project itself)."""
    found: dict[str, str] = {}
    for dep in yaml.safe_load(text)["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            if entry.startswith("-e"):
                continue
            # conda writes a single '=' for an exact pin ('python=3.11'); pip writes '=='
            name, spec = _split(re.sub(r"^([^=<>!~]+)=(?!=)", r"\1==", entry))
            if name not in NOT_PACKAGES:
                found[name] = spec
    return found


def test_environment_yml_mirrors_pyproject():
    ours = pyproject_requirements((REPO / "pyproject.toml").read_text())
    conda = environment_requirements((REPO / "environment.yml").read_text())
    assert conda == ours, (
        f"only in pyproject.toml: {sorted(set(ours.items()) - set(conda.items()))}; "
        f"only in environment.yml: {sorted(set(conda.items()) - set(ours.items()))}"
    )


def test_consistency_check_catches_a_changed_pin():
    """The comparison itself must fail when one side changes a pin or drops a package."""
    env_text = (REPO / "environment.yml").read_text()
    ours = pyproject_requirements((REPO / "pyproject.toml").read_text())
    assert environment_requirements(env_text.replace("torch==2.14.1", "torch==2.13.0")) != ours
    assert environment_requirements(env_text.replace("  - seaborn>=0.13\n", "")) != ours


def test_torch_pins_are_exact():
    ours = pyproject_requirements((REPO / "pyproject.toml").read_text())
    assert ours["torch"] == "==2.14.1" and ours["torchvision"] == "==0.29.1"


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_source_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"strip the outputs of {path.name}"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters' for papermill"
