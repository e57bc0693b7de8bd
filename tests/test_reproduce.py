"""reproduce.sh's interface and the papermill driver behind it (vaeinfo.reproduce)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "reproduce.sh"


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def driver(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "vaeinfo.reproduce", *args], **env)


# ----------------------------------------------------------------------------- the shell script's interface
def test_help_documents_the_interface():
    result = run(["bash", str(SCRIPT), "--help"])
    assert result.returncode == 0
    for option in ("--profile smoke|quick|paper", "--data-dir DIR", "--only NN", "--test", "--download"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profile", "fast"], "unknown profile 'fast'. Choose one of: paper,quick,smoke"),
        (["--frobnicate"], "unknown option '--frobnicate'"),
        (["--only", "3"], "--only takes a two-digit notebook number such as 03, got '3'"),
        (["--profile"], "--profile needs a value"),
    ],
)
def test_bad_usage_is_one_clear_error_before_any_setup(args, message):
    result = run(["bash", str(SCRIPT), *args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"reproduce.sh: error: {message}")
    assert "Traceback" not in result.stderr


def test_driver_rejects_unknown_notebook_number(tmp_path):
    result = driver("--only", "99", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "no notebook numbered 99" in result.stderr and "00" in result.stderr


def test_driver_rejects_missing_data_dir(tmp_path):
    result = driver("--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- running notebooks
def results(out: Path, name: str) -> dict:
    return json.loads((out / "results" / f"{name}.json").read_text())


def test_smoke_run_on_real_mnist(mnist_root, tmp_path):
    out = tmp_path / "out"
    result = driver("--profile", "smoke", "--only", "00", "--data-dir", str(mnist_root), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    record = results(out, "00_data")
    assert record["profile"] == "smoke" and [d["n"] for d in record["data"]] == [2000, 500, 10000]
    assert not any(d["fallback"] for d in record["data"])
    assert (out / "00_data.png").stat().st_size > 1000 and (out / "00_data.pdf").is_file()
    assert (out / "executed" / "00_data.ipynb").is_file() and (out / "executed" / "00_data.log").is_file()
    assert "00_data   ok" in result.stdout and "MNIST: 2000/500/10000" in result.stdout
    # The source notebook is never overwritten.
    assert not nbformat.read(REPO / "notebooks" / "00_data.ipynb", as_version=4).cells[2].outputs


def test_offline_without_data_completes_on_the_digits_fallback(tmp_path):
    out, empty = tmp_path / "out", tmp_path / "empty"
    empty.mkdir()
    result = driver("--profile", "smoke", "--only", "00", "--data-dir", str(empty), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("WARNING: MNIST not found") == 1  # the kernel's stderr is streamed to the log
    assert "digits (FALLBACK)" in result.stdout
    assert all(d["fallback"] and d["name"] == "digits" for d in results(out, "00_data")["data"])


def test_failing_notebook_is_reported_with_its_paths(tmp_path):
    folder, out = tmp_path / "nbs", tmp_path / "out"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'x'"), nbformat.v4.new_code_cell("raise RuntimeError('boom 42')")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "01_fails.ipynb")
    result = driver("--profile", "smoke", "--notebooks", str(folder), "--data-dir", str(tmp_path), "--out", str(out))
    assert result.returncode == 1
    assert "01_fails.ipynb FAILED" in result.stderr and "boom 42" in result.stderr
    assert str(out / "executed" / "01_fails.ipynb") in result.stderr
    assert str(out / "executed" / "01_fails.log") in result.stderr
    assert (out / "executed" / "01_fails.ipynb").is_file()
    assert "01_fails  FAILED" in result.stdout


def test_readme_results_table_is_regenerated_between_markers(tmp_path):
    from vaeinfo.io import atomic_write_json
    from vaeinfo.results import README_BEGIN, README_END, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\nold table\n{README_END}\nafter\n")
    atomic_write_json(tmp_path / "results" / "01_x.json",
                      {"name": "01_x", "summary": "13 active factors", "profile": "quick",
                       "data": [{"name": "MNIST", "fallback": False}]})
    update_readme(readme, tmp_path / "results")
    assert readme.read_text() == (
        f"intro\n{README_BEGIN}\n| notebook | result | profile | data |\n|---|---|---|---|\n"
        f"| [01_x](figures/executed/01_x.ipynb) | 13 active factors | quick | MNIST |\n{README_END}\nafter\n"
    )
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        update_readme(readme, tmp_path / "results")
