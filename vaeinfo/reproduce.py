"""Execute the numbered notebooks with papermill for one profile and summarise the run.

Called by ``./reproduce.sh`` (which sets up ``.venv`` first); usable directly as
``python -m vaeinfo.reproduce --profile smoke --only 00``.

Before the first notebook the driver checks everything it can: the profile ``params/<NAME>.yaml`` exists and
every key in it is declared by some notebook's ``parameters`` cell (a misspelt key stops the run, naming the
closest known key), and the data folder is validated once (:func:`vaeinfo.data.inventory.take_inventory`: a
corrupt or incomplete data set stops the run with one error, exit 1).

Each ``notebooks/NN_name.ipynb`` is then executed with the profile's values of the parameters it declares plus
``download``, ``interactive=False`` (no live widgets) and ``out_dir`` (written relative to ``notebooks/`` when
inside the repository), and, to the notebooks that train many models (those declaring them), ``scheduler`` and
``workers`` from ``--scheduler tcp://HOST:PORT`` (a running Dask cluster) or ``--workers N`` (a local one), which
override the profile's values (:func:`cluster_parameters`); kernel ``python3``, working directory ``notebooks/``;
the data folder reaches the kernel as ``$VAEINFO_DATA``. A notebook whose metadata ``vaeinfo.requires`` names an
absent data set (05 needs CelebA) is skipped, saying why, unless it was asked for with ``--only`` (then it is an
error). The executed copy goes to ``<out>/executed/NN_name.ipynb`` with its paths made relative and papermill's
timings removed, its log to ``<out>/executed/NN_name.log``; the source is never overwritten. A notebook's results
files (json and its md/csv tables) are deleted before it runs, so a failed notebook's row shows its error, never an
earlier run's numbers; when it fails, its figures from earlier runs (``<out>/NN_*.png`` and ``.pdf`` it did not
rewrite) go too, and those it wrote before failing stay. Exit status: 0 when no notebook failed (skipped ones
included), 1 when a notebook failed or the data is bad, 2 on bad usage (a profile's value of another kind than the
notebooks' default included: :func:`check_types`), 130 when interrupted (Ctrl-C or SIGTERM; :func:`run_notebook`
says what is kept).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import logging
import os
import re
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import nbformat
import yaml

from .checks import is_integer
from .data import ENV_VAR, DataError, resolve_data_dir
from .data.deap.format import ENV_VAR as DEAP_ENV_VAR
from .data.deap.format import deap_configured, deap_root
from .data.inventory import Inventory, take_inventory
from .io import CACHE_ENV, SCHEDULER_ADDRESS, atomic_write_text
from .results import data_labels, update_readme, update_references

REPO = Path(__file__).resolve().parent.parent
RESERVED = ("executed", "results", "local", "screenshots")  # folders of figures/ that are not a profile's output
REFERENCES = REPO / "params" / "references" / "authors.yaml"  # the numbers of the README paper-vs-here table
INJECTED = ("download", "out_dir", "interactive", "scheduler", "workers")  # set by the driver (the last two may
# also come from a profile), passed only to the notebooks that declare them
DRIVER_OWNED = {  # notebook parameters a profile may not set: the driver sets them, from what the command line says
    "data_dir": "give --data-dir DIR (the driver validates that folder before the first notebook)",
    "download": "give --download",
    "out_dir": "give --out DIR",
    "interactive": "a headless run never shows live widgets; open notebook 07 in Jupyter for them",
}
KINDS_OF_UNSET = {  # the kind of value of the notebook parameters whose default is None ("not set")
    **dict.fromkeys(("data_dir", "cache_dir", "deap_dir", "scheduler"), "str"),
    **dict.fromkeys(("n_train", "n_validation", "n_test", "celeba_n_train", "celeba_n_validation", "deap_folds",
                     "workers", "ensemble_min_samples"), "int"),
}
PATH_PARAMETERS = ("deap_dir", "cache_dir")  # a profile's relative paths: relative to where the driver was started
PATH_ENV = (DEAP_ENV_VAR, CACHE_ENV)  # the same for these variables (the kernels run in notebooks/)


@dataclass
class Outcome:
    """One notebook's run: its name, status (``"ok"``, ``"FAILED"``, ``"skipped"``), seconds, and summary line."""

    name: str
    status: str
    seconds: float
    summary: str


class BadData(Exception):
    """The data cannot serve the run (corrupt, or absent for a notebook asked for by name): exit status 1."""


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status (0 ok, 1 a notebook failed or bad data, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    empty = [f"--{name.replace('_', '-')}" for name in ("profile", "data_dir", "only", "out", "scheduler")
             if getattr(args, name) == ""]
    if empty:
        parser.error(f"{empty[0]} needs a value, got an empty one")
    try:
        params = load_profile(args.profile, Path(args.params))
        all_notebooks = select_notebooks(Path(args.notebooks))
        declared = {nb.stem: declared_parameters(nb) for nb in all_notebooks}
        profile_file = Path(args.params) / f"{args.profile}.yaml"
        check_keys(params, declared, profile_file)
        check_types(params, declared, profile_file)
        if args.scheduler is not None or args.workers is not None:
            params.update(cluster_parameters(args.scheduler, args.workers))
        else:  # the profile's values, checked now rather than in a notebook hours into the run
            cluster_parameters(params.get("scheduler"), params.get("workers"), source=profile_file.name)
        _absolute_paths(params)
        notebooks = select_notebooks(Path(args.notebooks), args.only)
        out = Path(args.out).resolve() if args.out is not None else default_out_dir(args.profile, Path(args.params))
        inventory = _inventory(args.data_dir, params.get("deap_dir"), args.download)
        plan = [(nb, skip_reason(nb, inventory, by_name=args.only is not None)) for nb in notebooks]
    except BadData as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 1
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    os.environ[ENV_VAR] = str(inventory.root.path)  # the kernels resolve the data folder from it
    if params.get("profile", args.profile) != args.profile:
        print(f"reproduce: {args.profile}.yaml says profile: {params['profile']}; its results are labelled "
              f"{args.profile}, the file's name", flush=True)
    params.update(profile=args.profile, download=args.download, out_dir=kernel_path(out, Path(args.notebooks)),
                  interactive=False)
    for key in PATH_PARAMETERS:
        if params.get(key):
            params[key] = kernel_path(Path(params[key]), Path(args.notebooks))
    print(f"reproduce: profile {args.profile}, data {inventory.root.describe()}, output {out}", flush=True)
    if args.scheduler or args.workers:
        where = f"the Dask scheduler at {args.scheduler}" if args.scheduler else f"{args.workers} local worker(s)"
        users = [nb.stem[:2] for nb, reason in plan
                 if not reason and {"scheduler", "workers"} & declared[nb.stem].keys()]
        if users:
            print(f"reproduce: notebooks that train many models ({', '.join(users)}) run them on {where}", flush=True)
        else:
            print(f"reproduce: note: none of the notebooks to run trains many models: {where} is not used",
                  flush=True)
    before = data_used(out / "results", [nb.stem for nb, reason in plan if not reason])
    try:
        with _sigterm_interrupts():
            outcomes = [skipped(nb, reason) if reason else run_notebook(nb, _subset(params, declared[nb.stem]), out)
                        for nb, reason in plan]
    except KeyboardInterrupt:
        print("\nreproduce: interrupted; the notebooks that finished before keep their outputs, the one running "
              "keeps its earlier executed copy and figures, without its results files", file=sys.stderr, flush=True)
        return 130
    print(format_summary(outcomes), flush=True)
    results_table, references_table = readme_tables(args.profile, Path(args.params), out)
    if results_table:
        update_readme(REPO / "README.md", out / "results")
        print(f"reproduce: README.md results table regenerated from {out / 'results'}", flush=True)
    if references_table:
        update_references(REPO / "README.md", REFERENCES, REPO / "figures")
        print(f"reproduce: README.md paper-vs-here table regenerated from {REFERENCES.name}", flush=True)
    ran = [o.name for o in outcomes if o.status == "ok"]
    note = data_change_note(before, data_used(out / "results", ran), out)
    if note:
        print(note, flush=True)
    print(closing_line(outcomes), flush=True)
    return 1 if any(o.status == "FAILED" for o in outcomes) else 0


def readme_tables(profile: str, params_dir: Path, out: Path) -> tuple[bool, bool]:
    """Whether a run regenerates the README's results table and its paper-vs-here table: only a run of the
    project's own profiles (``params/``) into their default folder, and the results table only from ``quick``."""
    own = params_dir.resolve() == (REPO / "params").resolve() and out.resolve() == default_out_dir(profile).resolve()
    return own and profile == "quick", own and REFERENCES.is_file()


def load_profile(profile: str, folder: Path = REPO / "params") -> dict:
    """Parameters of ``<folder>/<profile>.yaml`` as a dict; ValueError for a profile without a file or a bad name."""
    path = folder / f"{profile}.yaml"
    known = sorted(p.stem for p in path.parent.glob("*.yaml"))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", profile) or profile in RESERVED:
        raise ValueError(f"bad profile name {profile!r}: use letters, digits, '-' and '_', and none of {RESERVED}")
    if not path.is_file():
        raise ValueError(f"unknown profile {profile!r}: no {path}. Choose one of: {', '.join(known)}, "
                         f"or write {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            params = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}\nFix: correct the file where the message points") from None
    if not isinstance(params, dict):
        raise ValueError(f"{path} must hold a mapping of parameter names to values")
    return params


def declared_parameters(notebook: Path) -> dict[str, object]:
    """Names and default values assigned in the notebook's cell tagged ``parameters`` (``None`` for a value that is
    not a literal); ValueError when the notebook has no such cell."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ValueError(f"{notebook.name} has no cell tagged 'parameters'; papermill needs one")
    values = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = _literal(node.value)
    return values


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def check_keys(params: dict, declared: dict[str, dict], path: Path) -> None:
    """ValueError naming the first key of ``params`` that no notebook declares, and the closest declared key, or the
    first key that the driver sets itself (:data:`DRIVER_OWNED`), and what to do instead."""
    known = set(INJECTED).union(*declared.values()) if declared else set(INJECTED)
    for key in params:
        if not isinstance(key, str):  # YAML 1.1 reads an unquoted on/off/yes/no as a bool, 5 as an int
            raise ValueError(f"{path.parent.name}/{path.name}: key {key!r} is not a name (a {type(key).__name__}: "
                             f"YAML reads unquoted yes/no/on/off as booleans); quote it or rename it")
        if key in DRIVER_OWNED:
            raise ValueError(f"{path.parent.name}/{path.name}: {key} cannot be set in a profile: "
                             f"{DRIVER_OWNED[key]}")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "no declared key is close to it."
            raise ValueError(f"{path.parent.name}/{path.name}: unknown key {key!r}: no notebook's parameters cell "
                             f"declares it; {hint} (fix the key, or declare it in the notebook that uses it)")


def check_types(params: dict, declared: dict[str, dict], path: Path) -> None:
    """ValueError naming the first value of ``params`` whose kind none of the notebooks' defaults of its key has:
    a profile's ``n_train: "2000"`` failed every notebook that reads it, hours apart, instead of once before the
    first. A default of None takes its kind from :data:`KINDS_OF_UNSET`; None is accepted for every key ("not
    set"); an int is accepted where a float is; a bool is never a number."""
    for key, value in params.items():
        defaults = [values[key] for values in declared.values() if key in values]
        kinds = {KINDS_OF_UNSET.get(key) if default is None else _kind(default) for default in defaults} - {None}
        if value is None or not kinds or _kind(value) in kinds or (_kind(value) == "int" and "float" in kinds):
            continue
        raise ValueError(f"{path.parent.name}/{path.name}: {key} is {value!r} (a {_kind(value)}), where the notebooks "
                         f"take {' or '.join(sorted(kinds))}; fix the value (e.g. unquote a number)")


def _kind(value: object) -> str:
    """The kind of a parameter value, as :func:`check_types` compares them: bool, int, float, str, list or dict."""
    for kind in (bool, int, float, str, list, tuple, dict):
        if isinstance(value, kind):
            return "list" if kind is tuple else kind.__name__
    return type(value).__name__


def cluster_parameters(scheduler: str | None, workers: int | None, *, source: str | None = None) -> dict:
    """The notebook parameters of ``--scheduler`` / ``--workers``: ``{}`` when neither is given (the profile's
    values, if any, stand); otherwise both keys, the one not given set to None so that a profile's value of it
    cannot contradict the command line. ValueError for both at once, a bad address or fewer than 1 worker.
    ``source``: the profile file the values come from (named in the errors instead of the options)."""
    sched, work = ("--scheduler", "--workers") if source is None else (f"{source}: scheduler", f"{source}: workers")
    if scheduler is not None and workers is not None:
        raise ValueError(f"give {sched} (an existing Dask cluster) or {work} (a local cluster of N), not both")
    if scheduler is not None and not (isinstance(scheduler, str) and SCHEDULER_ADDRESS.fullmatch(scheduler)):
        raise ValueError(f"{sched} takes a Dask scheduler address such as tcp://HOST:8786, got {scheduler!r}")
    if workers is not None and not (is_integer(workers) and workers >= 1):
        raise ValueError(f"{work} takes a positive number of local worker processes, got {workers!r}")
    if scheduler is None and workers is None:
        return {}
    return {"scheduler": scheduler, "workers": workers}


def _absolute_paths(params: dict) -> None:
    """Make a profile's relative ``deap_dir``/``cache_dir`` and relative ``$VAEINFO_DEAP``/``$VAEINFO_CACHE``
    absolute, from the folder the driver runs in: the kernels run in ``notebooks/`` and would read them from there
    (the data folder's ``$VAEINFO_DATA`` is set absolute from the inventory)."""
    for key in PATH_PARAMETERS:
        if params.get(key):  # None and "" mean "not set"
            params[key] = str(Path(params[key]).expanduser().resolve())
    for var in PATH_ENV:
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).expanduser().resolve())


def select_notebooks(folder: Path, only: str | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks of ``folder`` in order, or just the one numbered ``only``."""
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only is not None:
        notebooks = [p for p in notebooks if p.name.startswith(f"{only}_")]
        if not notebooks:
            raise ValueError(f"no notebook numbered {only} in {folder} (have: "
                             f"{', '.join(p.name[:2] for p in sorted(folder.glob('[0-9][0-9]_*.ipynb'))) or 'none'})")
    if not notebooks:
        raise FileNotFoundError(f"no NN_*.ipynb notebooks in {folder}")
    return notebooks


def default_out_dir(profile: str, params_dir: Path = REPO / "params") -> Path:
    """``figures/`` for the committed quick profile, ``figures/<profile>/`` for the project's others, and
    ``figures/local/<profile>/`` (ignored by git) for a profile from another ``--params`` folder, so that a copy of
    ``quick.yaml`` with other settings never overwrites the committed figures."""
    if Path(params_dir).resolve() != (REPO / "params").resolve():
        return REPO / "figures" / "local" / profile
    return REPO / "figures" if profile == "quick" else REPO / "figures" / profile


def kernel_path(path: Path, cwd: Path) -> str:
    """``path`` as the kernel (working directory ``cwd``) should see it: relative when both are in the repository,
    so that the executed notebooks carry no absolute local path."""
    path, cwd = path.resolve(), cwd.resolve()
    if path.is_relative_to(REPO) and cwd.is_relative_to(REPO):
        return os.path.relpath(path, cwd)
    return str(path)


def requirements(notebook: Path) -> list[str]:
    """The data sets a notebook cannot run without: its metadata ``vaeinfo.requires`` (e.g. ``["CelebA"]``)."""
    return list(nbformat.read(notebook, as_version=4).metadata.get("vaeinfo", {}).get("requires", []))


def skip_reason(notebook: Path, inventory: Inventory, *, by_name: bool) -> str | None:
    """Why the notebook is skipped (``None``: it runs); BadData when it was asked for by name."""
    missing = inventory.missing(requirements(notebook))
    if not missing:
        return None
    reason = "; ".join(inventory.reason(name) for name in missing)
    if by_name:
        raise BadData(f"{notebook.name} needs {', '.join(missing)}: {reason}")
    return f"skipped: {reason}"


def skipped(notebook: Path, reason: str) -> Outcome:
    """The outcome of a skipped notebook, announced like a run."""
    print(f"\n=== {notebook.name} ===\nreproduce: {notebook.name} {reason}", flush=True)
    return Outcome(notebook.stem, "skipped", 0.0, reason)


def run_notebook(notebook: Path, params: dict, out: Path) -> Outcome:
    """Execute one notebook with papermill; stream its log to stdout and to ``<out>/executed/<name>.log``.

    papermill writes the executed copy as it goes into a hidden ``.<name>.partial.ipynb`` beside it, which replaces
    ``<name>.ipynb`` once made portable (:func:`portable_notebook`), whether the notebook succeeded or failed; the
    log likewise goes to ``.<name>.partial.log`` first. An interrupt (Ctrl-C, or SIGTERM, which :func:`main` turns
    into one) deletes both partial files and leaves the earlier executed copy and log as they were.
    """
    import papermill as pm

    executed = out / "executed" / notebook.name
    partial = executed.with_name(f".{notebook.stem}.partial.ipynb")
    log_path, log_partial = executed.with_suffix(".log"), executed.with_name(f".{notebook.stem}.partial.log")
    results = out / "results" / f"{notebook.stem}.json"
    executed.parent.mkdir(parents=True, exist_ok=True)
    _forget_results(results)  # never report an earlier run's numbers
    print(f"\n=== {notebook.name} ({params.get('profile')}) ===", flush=True)
    earlier, start = _figures(out, notebook.stem), time.perf_counter()
    with _removed_on_interrupt(partial, log_partial), _log_to(log_partial):  # the log closed before it is deleted
        try:
            pm.execute_notebook(
                str(notebook), str(partial), parameters=params, kernel_name="python3",
                cwd=str(notebook.parent), log_output=True, progress_bar=False,
                store_widget_state=False,  # headless (interactive=False): no widget is shown, its state is dead weight
            )
            error = None
        except Exception as exc:  # papermill wraps the cell's error; report it and go on to the next notebook
            error = first_line(exc)
            print(f"reproduce: {notebook.name} FAILED: {error}\n  executed copy: {executed}\n  log: {log_path}",
                  file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    os.replace(log_partial, log_path)
    if partial.is_file():
        portable_notebook(partial, notebook, executed)
        os.replace(partial, executed)
    if error is not None:
        _forget_results(results)
        _forget_figures(out, notebook.stem, earlier)
        return Outcome(notebook.stem, "FAILED", seconds, error)
    return Outcome(notebook.stem, "ok", seconds, _summary(results))


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Inside the block SIGTERM (``timeout``, ``kill``, a batch system's end of job) raises KeyboardInterrupt like
    Ctrl-C, so that the running notebook's partial copy is cleaned up; the former handler is restored after."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    former = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, former)


@contextmanager
def _removed_on_interrupt(*paths: Path) -> Iterator[None]:
    """Delete ``paths`` when the block is interrupted (KeyboardInterrupt, SystemExit), then let the interrupt go on."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        for path in paths:
            path.unlink(missing_ok=True)
        raise


def _forget_results(results: Path) -> None:
    """Delete a notebook's results files, ``<out>/results/NN_name.json`` and its tables ``.md``/``.csv``."""
    for suffix in (".json", ".md", ".csv"):
        results.with_suffix(suffix).unlink(missing_ok=True)


def _figures(out: Path, stem: str) -> dict[Path, tuple[int, int]]:
    """Notebook ``stem``'s figures in ``out`` now, ``<out>/NN_*.png`` and ``.pdf`` (NN its number), each with its
    (inode, mtime in ns): a figure written since has another (atomic writes replace the file)."""
    number = stem.split("_", 1)[0]
    paths = (*out.glob(f"{number}_*.png"), *out.glob(f"{number}_*.pdf"))
    return {p: (s.st_ino, s.st_mtime_ns) for p in paths if p.is_file() for s in [p.stat()]}


def _forget_figures(out: Path, stem: str, earlier: dict[Path, tuple[int, int]]) -> None:
    """Delete those of the ``earlier`` figures (:func:`_figures` before the run) that the run did not rewrite."""
    for path, stamp in _figures(out, stem).items():
        if earlier.get(path) == stamp:
            path.unlink()


def first_line(exc: Exception) -> str:
    """The first line of a notebook's error, e.g. ``"DataError: MNIST is incomplete in ..."``."""
    name, value = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{name}: {value}" if name else (str(exc).strip() or repr(exc))
    return text.strip().splitlines()[0]


def portable_notebook(executed: Path, source: Path, final: Path | None = None) -> None:
    """Rewrite the executed copy without this machine's or this run's traces: papermill's input/output paths
    relative to the repository (the output path ``final``'s, when the copy will be moved there), no start/end
    times, durations or kernel message timestamps, and a fixed id for the injected-parameters cell (papermill
    draws a random one)."""
    nb = nbformat.read(executed, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        meta.pop(key, None)
    meta.update(input_path=_repo_relative(source), output_path=_repo_relative(final or executed))
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill draws a random id on every run
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
                cell.metadata.get("papermill", {}).pop(key, None)
    atomic_write_text(executed, nbformat.writes(nb) + "\n")


def _repo_relative(path: Path) -> str:
    path = path.resolve()
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def format_summary(outcomes: list[Outcome]) -> str:
    """A fixed-width table: notebook, status, time, key number (or the error, or why it was skipped)."""
    rows = [("notebook", "status", "time", "result")]
    rows += [(o.name, o.status, f"{o.seconds:.1f} s", o.summary) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    return "\nSummary\n" + "\n".join(lines)


def data_used(results: Path, names: list[str]) -> dict[str, list[str]]:
    """For each notebook of ``names`` with a results file in ``results``: the data sets it ran on, e.g.
    ``["MNIST"]`` or ``["digits (fallback)"]`` (from the file's ``data`` entries; nothing for an unreadable file)."""
    used = {}
    for name in names:
        try:
            used[name] = data_labels(json.loads((results / f"{name}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            continue
    return used


def data_change_note(before: dict[str, list[str]], after: dict[str, list[str]], out: Path) -> str | None:
    """A note when notebooks wrote into the project's ``figures/`` (committed: they show the reference run, and
    the README's rows with them) from other data than the results they replaced, e.g. the 8x8 digits fallback
    where the committed run read MNIST; None otherwise."""
    if not out.resolve().is_relative_to((REPO / "figures").resolve()):
        return None
    changed = {name: (before[name], data) for name, data in after.items() if name in before and before[name] != data}
    if not changed:
        return None
    which = "; ".join(f"{name}: {', '.join(now)} (the results it replaced: {', '.join(was)})"
                      for name, (was, now) in changed.items())
    return (f"reproduce: note: notebooks ran on other data than the results they replaced: {which}. Their figures, "
            f"results and README rows in this checkout now show this run; `git checkout -- figures README.md` "
            f"restores the committed ones (pass --out DIR to write elsewhere)")


def closing_line(outcomes: list[Outcome]) -> str:
    """E.g. ``"reproduce: 7 ran, 1 skipped (05_celeba), 0 failed"``."""
    def names(status: str) -> list[str]:
        return [o.name for o in outcomes if o.status == status]

    parts = [f"{len(names('ok'))} ran"]
    for status, label in (("skipped", "skipped"), ("FAILED", "failed")):
        found = names(status)
        parts.append(f"{len(found)} {label}" + (f" ({', '.join(found)})" if found else ""))
    return "reproduce: " + ", ".join(parts)


def _subset(params: dict, declared: dict) -> dict:
    """The parameters a notebook declares (papermill would inject the others too, as dead variables)."""
    return {key: value for key, value in params.items() if key in declared}


def _summary(results_json: Path) -> str:
    """The ``summary`` line a notebook wrote into its results JSON, or '-' when there is none."""
    try:
        return str(json.loads(results_json.read_text(encoding="utf-8")).get("summary", "-"))
    except (OSError, ValueError):
        return "-"


def _inventory(data_dir: str | None, deap_dir, download: bool) -> Inventory:
    """Validate the data folder (default: the repository's ``data/``, created); bad data is BadData."""
    if not data_dir and not os.environ.get(ENV_VAR):
        data_dir = REPO / "data"
        data_dir.mkdir(exist_ok=True)
    resolve_data_dir(data_dir)  # a folder that does not exist is a usage error (exit 2), not bad data
    if deap_configured(deap_dir):
        deap_root(deap_dir)  # likewise a DEAP folder that does not exist
    try:
        return take_inventory(data_dir, deap_dir, download=download)
    except DataError as exc:
        raise BadData(f"{exc}\nreproduce: no notebook was run.") from None
    except OSError as exc:  # a file or folder this user may not read (or not a folder where one is needed)
        raise BadData(f"cannot read the data: {exc}. Fix: make it readable to this user, or point the data folder "
                      f"elsewhere.\nreproduce: no notebook was run.") from None


@contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Send papermill's log records (the cells' outputs) to stdout and to the file ``path``."""
    logger = logging.getLogger("papermill")
    handlers = [logging.StreamHandler(sys.stdout), logging.FileHandler(path, mode="w", encoding="utf-8")]
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vaeinfo.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", help="NAME of params/NAME.yaml (default: quick)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--only", default=None, help="two-digit notebook number")
    parser.add_argument("--out", default=None, help="output folder (default: figures/ or figures/<profile>/; "
                                                    "figures/local/<profile>/ with another --params folder)")
    parser.add_argument("--download", action="store_true", help="allow downloading MNIST")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler (tcp://HOST:8786) for the notebooks that train many models")
    parser.add_argument("--workers", default=None, type=int, metavar="N",
                        help="local Dask cluster of N worker processes for those notebooks (1: no cluster)")
    parser.add_argument("--notebooks", default=str(REPO / "notebooks"), help="folder of NN_*.ipynb notebooks")
    parser.add_argument("--params", default=str(REPO / "params"), help="folder of the profiles NAME.yaml")
    return parser


if __name__ == "__main__":
    sys.exit(main())
