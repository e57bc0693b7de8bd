"""Execute the numbered notebooks with papermill for one profile and summarise the run.

Called by ``./reproduce.sh`` (which sets up ``.venv`` first); usable directly as
``python -m vaeinfo.reproduce --profile smoke --only 00``.

Each ``notebooks/NN_name.ipynb`` is executed with the parameters of ``params/<profile>.yaml`` plus
``data_dir``, ``download`` and ``out_dir``, kernel ``python3``, working directory ``notebooks/``.
The executed copy goes to ``<out>/executed/NN_name.ipynb`` and its log to ``<out>/executed/NN_name.log``,
never over the source. A failing notebook is reported with the paths of both; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from .data import ENV_VAR, DataError, resolve_data_dir
from .results import update_readme

REPO = Path(__file__).resolve().parent.parent
PROFILES = ("smoke", "quick", "paper")


@dataclass
class Outcome:
    """One notebook's run: its name, status (``"ok"``/``"FAILED"``), seconds, and summary line."""

    name: str
    status: str
    seconds: float
    summary: str


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status (0 ok, 1 a notebook failed, 2 usage)."""
    args = _parser().parse_args(argv)
    try:
        params = load_profile(args.profile)
        notebooks = select_notebooks(Path(args.notebooks), args.only)
        data_dir = _data_dir(args.data_dir)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out_dir(args.profile)
    params.update(data_dir=str(data_dir), download=args.download, out_dir=str(out.resolve()))
    print(f"reproduce: profile {args.profile}, data {data_dir}, output {out}", flush=True)
    outcomes = [run_notebook(nb, params, out) for nb in notebooks]
    print(format_summary(outcomes), flush=True)
    if out.resolve() == default_out_dir("quick").resolve():
        update_readme(REPO / "README.md", out / "results")
        print(f"reproduce: README.md results table regenerated from {out / 'results'}", flush=True)
    return 1 if any(o.status != "ok" for o in outcomes) else 0


def load_profile(profile: str) -> dict:
    """Parameters of ``params/<profile>.yaml`` as a dict; ValueError for an unknown profile."""
    path = REPO / "params" / f"{profile}.yaml"
    if profile not in PROFILES or not path.is_file():
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    with open(path, encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path} must hold a mapping of parameter names to values")
    return params


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


def default_out_dir(profile: str) -> Path:
    """``figures/`` for the committed quick profile, ``figures/<profile>/`` for the others."""
    return REPO / "figures" if profile == "quick" else REPO / "figures" / profile


def run_notebook(notebook: Path, params: dict, out: Path) -> Outcome:
    """Execute one notebook with papermill; stream its log to stdout and to ``<out>/executed/<name>.log``."""
    import papermill as pm

    executed = out / "executed" / notebook.name
    log_path = executed.with_suffix(".log")
    executed.parent.mkdir(parents=True, exist_ok=True)
    print(f"\n=== {notebook.name} ({params.get('profile')}) ===", flush=True)
    start = time.perf_counter()
    with _log_to(log_path):
        try:
            pm.execute_notebook(  # parameters the notebook does not declare are injected all the same
                str(notebook), str(executed), parameters=params, kernel_name="python3",
                cwd=str(notebook.parent), log_output=True, progress_bar=False,
                store_widget_state=bool(params.get("interactive")),  # widgets not shown: their state is dead weight
            )
            status = "ok"
        except Exception as exc:  # papermill wraps the cell's error; report it and go on to the next notebook
            status = "FAILED"
            print(f"reproduce: {notebook.name} FAILED: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}\n"
                  f"  executed copy: {executed}\n  log: {log_path}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    return Outcome(notebook.stem, status, seconds, _summary(out / "results" / f"{notebook.stem}.json"))


def format_summary(outcomes: list[Outcome]) -> str:
    """A fixed-width table: notebook, status, time, key number."""
    rows = [("notebook", "status", "time", "result")]
    rows += [(o.name, o.status, f"{o.seconds:.1f} s", o.summary) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    return "\nSummary\n" + "\n".join(lines)


def _summary(results_json: Path) -> str:
    """The ``summary`` line a notebook wrote into its results JSON, or '-' when there is none."""
    try:
        return str(json.loads(results_json.read_text(encoding="utf-8")).get("summary", "-"))
    except (OSError, ValueError):
        return "-"


def _data_dir(explicit: str | None) -> Path:
    """Resolve the data folder as the package does, defaulting to the repository's ``data/`` (created)."""
    if explicit or os.environ.get(ENV_VAR):
        return resolve_data_dir(explicit).path
    default = REPO / "data"
    default.mkdir(exist_ok=True)
    return default


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
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--only", default=None, help="two-digit notebook number")
    parser.add_argument("--out", default=None, help="output folder (default: figures/ or figures/<profile>/)")
    parser.add_argument("--download", action="store_true", help="allow downloading MNIST")
    parser.add_argument("--notebooks", default=str(REPO / "notebooks"), help="folder of NN_*.ipynb notebooks")
    return parser


if __name__ == "__main__":
    sys.exit(main())
