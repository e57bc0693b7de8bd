"""The documentation names what exists: docstring cross-references, the README's ``vaeinfo.`` names and the README's
Python examples (their imports, and every call of an imported function binds to its signature).

A reference is resolved as Sphinx would look for it: an absolute dotted name (``vaeinfo.info.mi.factor_mi``); a
relative one (``.format.EEGTrials``: from the module's package, or from the module itself); a name the module
defines or imports (``factor_mi``, ``torch.randperm``); a method or attribute of a class of the module. An
``:attr:`` may also name an instance attribute: a dataclass field or one assigned as ``self.<name> = ...``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import vaeinfo

REPO = Path(__file__).resolve().parent.parent
ROLE = re.compile(r":(?:py:)?(func|class|data|mod|meth|attr|exc|obj):`~?(\.*[A-Za-z_][A-Za-z0-9_.]*)`")
README_NAME = re.compile(r"`(vaeinfo(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _chain(obj, parts: list[str]) -> bool:
    for part in parts:
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def absolute(name: str) -> bool:
    """Whether ``name`` is a module, or an attribute chain below the longest importable module prefix."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        return _chain(module, parts[i:])
    return False


def _instance_attribute(module: ModuleType, name: str) -> bool:
    """Whether a class of ``module`` has a dataclass field ``name`` or assigns ``self.<name>`` (also in a tuple)."""
    fields = any(name in getattr(obj, "__dataclass_fields__", {}) for obj in vars(module).values()
                 if inspect.isclass(obj))
    targets = (target for node in ast.walk(ast.parse(inspect.getsource(module)))
               if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
               for target in (node.targets if isinstance(node, ast.Assign) else [node.target]))
    assigned = {element.attr for target in targets for element in ast.walk(target)
                if isinstance(element, ast.Attribute) and isinstance(element.value, ast.Name)
                and element.value.id == "self"}
    return fields or name in assigned


def resolves(module: ModuleType, role: str, target: str) -> bool:
    """Whether the reference ``:role:`target``` written in ``module`` names something that exists."""
    if target.startswith("."):
        rest = target.lstrip(".")
        package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
        base = package.split(".")
        base = base[:len(base) - (len(target) - len(rest) - 1)]
        return absolute(".".join([*base, rest])) or absolute(f"{module.__name__}.{rest}")
    parts = target.split(".")
    if parts[0] in vars(module):
        return _chain(vars(module)[parts[0]], parts[1:])
    if (len(parts) > 1 or role == "mod") and absolute(target):  # a bare module name is a :mod:, not a :func:
        return True
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and getattr(obj, "__module__", "") == module.__name__]
    if any(_chain(cls, parts) for cls in classes):
        return True
    return role == "attr" and len(parts) == 1 and _instance_attribute(module, target)


def package_modules() -> list[ModuleType]:
    return [vaeinfo, *(importlib.import_module(info.name)
                       for info in pkgutil.walk_packages(vaeinfo.__path__, "vaeinfo."))]


def broken_references(module: ModuleType) -> list[str]:
    return [match.group(0) for match in ROLE.finditer(inspect.getsource(module))
            if not resolves(module, match.group(1), match.group(2))]


def test_docstring_cross_references_resolve():
    broken = {module.__name__: refs for module in package_modules() if (refs := broken_references(module))}
    assert not broken, f"references to names that do not exist (renamed or moved?): {broken}"


def test_the_reference_check_catches_a_stale_name():
    from vaeinfo.data import deap
    from vaeinfo.viz import widgets

    assert resolves(deap, "class", ".format.EEGTrials") and resolves(deap, "func", ".release.load_preprocessed")
    assert not resolves(deap, "class", "EEGTrials")  # the package does not import it: the reference was stale
    assert not resolves(deap, "func", ".format.no_such_function")
    assert resolves(widgets, "attr", "image") and not resolves(widgets, "attr", "no_such_attribute")
    assert not resolves(widgets, "meth", "no_such_attribute")  # instance attributes count for :attr: only
    assert not resolves(widgets, "func", "copy") and resolves(widgets, "mod", "copy")  # a module is not a function


def readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_vaeinfo_names_exist():
    names = sorted(set(README_NAME.findall(readme())))
    assert len(names) > 20  # the pattern still finds the README's names
    missing = [name for name in names if not absolute(name)]
    assert not missing, f"README.md names what does not exist: {missing}"


def call_mismatches(code: str) -> list[str]:
    """Run the imports of a README example; bind every call of an imported callable (``f(...)``, or ``m.f(...)``
    for an imported module ``m``) to its signature with placeholder arguments. Returns the calls that do not bind.
    """
    tree = ast.parse(code)
    namespace: dict = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            exec(compile(ast.Module([node], []), "<README>", "exec"), namespace)
    problems = []
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        func = call.func
        if isinstance(func, ast.Name) and func.id in namespace:
            target = namespace[func.id]
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and isinstance(namespace.get(func.value.id), ModuleType)):
            target = getattr(namespace[func.value.id], func.attr, None)
            if target is None:
                problems.append(f"{ast.unparse(func)} does not exist")
                continue
        else:
            continue
        if any(isinstance(arg, ast.Starred) for arg in call.args) or any(kw.arg is None for kw in call.keywords):
            continue
        try:
            inspect.signature(target).bind(*call.args, **{kw.arg: kw.value for kw in call.keywords})
        except TypeError as exc:
            problems.append(f"{ast.unparse(call)}: {exc}")
    return problems


def test_readme_examples_import_and_call_what_exists():
    blocks = PYTHON_BLOCK.findall(readme())
    assert len(blocks) >= 4
    problems = [problem for block in blocks for problem in call_mismatches(block)]
    assert not problems, f"README.md's Python examples are out of date: {problems}"


@pytest.mark.parametrize("code, expected", [
    ("from vaeinfo.info import disentanglement as dis\ndis.mig(mu, logvar, factors, bins=20)", "unexpected keyword"),
    ("from vaeinfo.info import disentanglement as dis\ndis.no_such_metric(mu)", "does not exist"),
    ("from vaeinfo.training.encode import encode\nencode(model, data, 256)", "too many positional"),
])
def test_the_example_check_catches_a_wrong_call(code, expected):
    problems = call_mismatches(code)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_example_check_catches_a_wrong_import():
    with pytest.raises(ImportError):
        call_mismatches("from vaeinfo.info.mi import no_such_function")
