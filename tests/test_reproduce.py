"""reproduce.sh's interface and the papermill driver behind it (vaeinfo.reproduce)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
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


def tiny_profile(tmp_path: Path) -> list[str]:
    """Driver arguments for a profile ``tiny`` (just ``profile: tiny``) of a folder beside the test's notebooks."""
    (tmp_path / "params").mkdir(exist_ok=True)
    (tmp_path / "params" / "tiny.yaml").write_text("profile: tiny\n")
    return ["--profile", "tiny", "--params", str(tmp_path / "params")]


# ----------------------------------------------------------------------------- the shell script's interface
def test_help_documents_the_interface():
    result = run(["bash", str(SCRIPT), "--help"])
    assert result.returncode == 0
    for option in ("--profile NAME", "--data-dir DIR", "--only NN", "--test", "--download", "params/NAME.yaml",
                   "--scheduler ADDRESS", "--workers N", "dask scheduler", "dask worker"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profile", "fast"], "unknown profile 'fast'. Choose one of: official,paper,quick,smoke"),
        (["--frobnicate"], "unknown option '--frobnicate'"),
        (["--only", "3"], "--only takes a two-digit notebook number such as 03, got '3'"),
        (["--profile"], "--profile needs a value"),
        (["--scheduler"], "--scheduler needs an address, e.g. --scheduler tcp://HOST:8786"),
        (["--workers", "0"], "--workers takes a positive number of worker processes such as 4, got '0'"),
        (["--workers=two"], "--workers takes a positive number of worker processes such as 4, got 'two'"),
        (["--workers", "2", "--scheduler", "tcp://h:8786"], "give --scheduler (an existing Dask cluster) or --workers"),
        # an unset variable ("--only $N") must not silently run every notebook into figures/
        (["--only="], "--only needs a value, got an empty one"),
        (["--out", ""], "--out needs a value, got an empty one"),
        (["--data-dir="], "--data-dir needs a value, got an empty one"),
        # options of a notebook run were dropped without a word by --test; --data-dir now sets the tests' data
        (["--only", "03", "--test"], "--only is for notebook runs; --test takes only --data-dir before it"),
        (["--workers=2", "--test", "-x"], "--workers is for notebook runs"),
        (["--data-dir", "/nonexistent/vaeinfo-data", "--test"], "--data-dir /nonexistent/vaeinfo-data does not exist"),
    ],
)
def test_bad_usage_is_one_clear_error_before_any_setup(args, message):
    result = run(["bash", str(SCRIPT), *args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"reproduce.sh: error: {message}")
    assert "Traceback" not in result.stderr


def test_driver_refuses_an_empty_option_value(tmp_path):
    result = driver("--out", "", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "--out needs a value, got an empty one" in result.stderr


def test_driver_rejects_unknown_notebook_number(tmp_path):
    result = driver("--only", "99", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "no notebook numbered 99" in result.stderr and "00" in result.stderr


def test_driver_rejects_missing_data_dir(tmp_path):
    result = driver("--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["env", "profile"])
def test_driver_rejects_missing_deap_folder_as_usage_like_the_data_dir(tmp_path, how):
    """A DEAP folder that does not exist was bad data (exit 1) where a missing data folder is a usage error (2)."""
    missing = tmp_path / "no_deap"
    params = tmp_path / "params"
    params.mkdir()
    (params / "mine.yaml").write_text(f"deap_dir: {missing}\n" if how == "profile" else "{}\n")
    env = {"VAEINFO_DEAP": str(missing)} if how == "env" else {}
    result = driver("--profile", "mine", "--params", str(params), "--data-dir", str(tmp_path),
                    "--out", str(tmp_path / "out"), **env)
    assert result.returncode == 2, result.stderr
    assert f"DEAP folder {missing}" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("line, message", [
    ("deap_dir: false", "params/mine.yaml: deap_dir is False (a bool), where the notebooks take str"),
    ("cache_dir: 5", "params/mine.yaml: cache_dir is 5 (a int), where the notebooks take str"),
    ("cache_dir: [a]", "params/mine.yaml: cache_dir is ['a'] (a list), where the notebooks take str"),
    ("on: 1", "params/mine.yaml: key True is not a name (a bool: YAML reads unquoted yes/no/on/off as booleans)"),
    ("5: 1", "params/mine.yaml: key 5 is not a name (a int"),
    ('n_train: "2000"', "params/mine.yaml: n_train is '2000' (a str), where the notebooks take int; fix the value"),
    ("beta: 4", "no notebook numbered 99"),  # an int where the notebooks' default is a float: accepted
    ("seed: 1.5", "params/mine.yaml: seed is 1.5 (a float), where the notebooks take int"),
    ("interactive_demo: 1", None),  # an unknown key is check_keys' error, named before any type
])
def test_a_profile_value_of_the_wrong_type_is_one_clear_error_before_any_notebook(tmp_path, line, message):
    """Path(False) or Path(5) was a TypeError traceback; a non-string key one in difflib; n_train: "2000" failed
    each of the six notebooks that read it, one after the other."""
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text(line + "\n")
    result = driver("--profile", "mine", "--params", str(tmp_path / "params"), "--data-dir", str(tmp_path),
                    "--out", str(tmp_path / "out"), "--only", "99")  # a profile that passes runs nothing either
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (message or "unknown key 'interactive_demo'") in result.stderr
    assert not (tmp_path / "out").exists()


def test_every_parameter_declared_unset_has_a_kind():
    """A notebook parameter whose default is None needs its kind in KINDS_OF_UNSET, or its values go unchecked."""
    from vaeinfo.reproduce import KINDS_OF_UNSET, declared_parameters, select_notebooks

    unset = {key for nb in select_notebooks(REPO / "notebooks") for key, value in declared_parameters(nb).items()
             if value is None}
    assert unset and unset <= set(KINDS_OF_UNSET), sorted(unset - set(KINDS_OF_UNSET))


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
    result = driver(*tiny_profile(tmp_path), "--notebooks", str(folder), "--data-dir", str(tmp_path), "--out", str(out))
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
    for text in ("no markers", f"{README_END}\nswapped\n{README_BEGIN}\n"):
        readme.write_text(text)
        with pytest.raises(ValueError, match="lacks the markers"):
            update_readme(readme, tmp_path / "results")
        assert readme.read_text() == text


def test_only_the_projects_own_profiles_into_their_default_folders_regenerate_the_readme(tmp_path):
    from vaeinfo.reproduce import REFERENCES, REPO, default_out_dir, readme_tables

    own = REPO / "params"
    assert REFERENCES.is_file()
    assert readme_tables("quick", own, default_out_dir("quick")) == (True, True)
    assert readme_tables("official", own, default_out_dir("official")) == (False, True)
    assert readme_tables("smoke", own, default_out_dir("quick")) == (False, False)  # smoke numbers into figures/
    assert readme_tables("quick", own, tmp_path) == (False, False)
    assert readme_tables("quick", tmp_path, default_out_dir("quick")) == (False, False)  # a user's own quick.yaml


# ----------------------------------------------------------------------------- checks before the first notebook
def notebook(folder: Path, name: str, code: str, params: str = "profile = 'x'", requires=None) -> Path:
    """A tiny notebook ``folder/name.ipynb``: a parameters cell, then ``code``."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params), nbformat.v4.new_code_cell(code)]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if requires:
        nb.metadata["vaeinfo"] = {"requires": requires}
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def test_every_key_of_the_shipped_profiles_is_declared_by_a_notebook():
    from vaeinfo.reproduce import check_keys, declared_parameters, load_profile, select_notebooks

    declared = {nb.stem: declared_parameters(nb) for nb in select_notebooks(REPO / "notebooks")}
    profiles = sorted(p.stem for p in (REPO / "params").glob("*.yaml"))
    assert {"smoke", "quick", "paper"} <= set(profiles)
    for profile in profiles:
        check_keys(load_profile(profile), declared, REPO / "params" / f"{profile}.yaml")  # raises on an unknown key


def test_each_notebooks_parameters_cell_holds_the_quick_profiles_values():
    from vaeinfo.reproduce import declared_parameters, load_profile, select_notebooks

    quick = load_profile("quick")
    for nb in select_notebooks(REPO / "notebooks"):
        declared = declared_parameters(nb)
        differ = {k: (declared[k], quick[k]) for k in declared.keys() & quick.keys() if declared[k] != quick[k]}
        assert not differ, f"{nb.name}: parameters cell (value, quick profile) disagree: {differ}"
        assert declared["out_dir"] == "../figures/local", f"{nb.name}: a hand run must not overwrite figures/"


def test_a_misspelt_profile_key_stops_the_run_naming_the_closest_key(tmp_path):
    folder = tmp_path / "nbs"
    notebook(folder, "01_a", "print('ran')", params="profile = 'x'\nbeta = 10.0\nlatent_dim = 128")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text("profile: mine\nbetaa: 6\n")
    result = driver("--profile", "mine", "--params", str(tmp_path / "params"), "--notebooks", str(folder),
                    "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "unknown key 'betaa'" in result.stderr and "did you mean 'beta'?" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_a_profile_that_is_not_valid_yaml_stops_the_run_naming_the_file(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text("profile: mine\nbeta: [1, 2\n")
    result = driver("--profile", "mine", "--params", str(tmp_path / "params"), "--data-dir", str(tmp_path),
                    "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "mine.yaml is not valid YAML" in result.stderr and "line 3" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_a_users_own_profile_runs_end_to_end(tmp_path):
    from vaeinfo.reproduce import default_out_dir

    folder = tmp_path / "nbs"
    notebook(folder, "01_a", "print(f'beta is {beta}')", params="profile = 'x'\nbeta = 10.0\nout_dir = 'o'")
    notebook(folder, "02_b", "print(f'no beta here: {profile}')", params="profile = 'x'\nout_dir = 'o'")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "my-run.yaml").write_text("profile: my-run\nbeta: 6.5\n")
    out = tmp_path / "out"
    result = driver("--profile", "my-run", "--params", str(tmp_path / "params"), "--notebooks", str(folder),
                    "--data-dir", str(tmp_path), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "beta is 6.5" in result.stdout and "no beta here: my-run" in result.stdout
    assert "reproduce: 2 ran, 0 skipped, 0 failed" in result.stdout
    # Only the parameters a notebook declares are injected into it.
    injected = [c for c in nbformat.read(out / "executed" / "02_b.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])][0]
    assert "beta" not in injected.source and "profile = \"my-run\"" in injected.source
    assert default_out_dir("my-run") == REPO / "figures" / "my-run"
    assert default_out_dir("quick") == REPO / "figures"


def test_a_profile_from_another_params_folder_never_writes_into_the_committed_figures(tmp_path):
    """A copy of quick.yaml with other settings (README "Speed work": --params DIR) wrote into figures/ and
    regenerated nothing of the README: it goes to figures/local/<profile>/ unless --out says otherwise."""
    from vaeinfo.reproduce import default_out_dir

    assert default_out_dir("quick", tmp_path) == REPO / "figures" / "local" / "quick"
    folder = tmp_path / "nbs"
    notebook(folder, "01_a", "print('ran')", params="profile = 'x'\nout_dir = 'o'")
    (tmp_path / "params").mkdir()
    name = f"pytest-{os.getpid()}"
    (tmp_path / "params" / f"{name}.yaml").write_text(f"profile: {name}\n")
    out = REPO / "figures" / "local" / name
    local_existed = out.parent.exists()
    try:
        result = driver("--profile", name, "--params", str(tmp_path / "params"), "--notebooks", str(folder),
                        "--data-dir", str(tmp_path))
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"output {out}" in result.stdout and (out / "executed" / "01_a.ipynb").is_file()
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if not local_existed:
            shutil.rmtree(out.parent, ignore_errors=True)


def test_bad_data_is_one_error_before_any_notebook_runs(mnist_root, tmp_path):
    data = tmp_path / "data"
    (data / "MNIST" / "raw").mkdir(parents=True)
    for file in (mnist_root / "MNIST" / "raw").glob("*-ubyte"):
        (data / "MNIST" / "raw" / file.name).symlink_to(file)
    truncated = data / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    truncated.unlink()
    truncated.write_bytes((mnist_root / "MNIST" / "raw" / truncated.name).read_bytes()[:100_000])
    out = tmp_path / "out"
    result = driver("--profile", "smoke", "--data-dir", str(data), "--out", str(out))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "t10k-images-idx3-ubyte" in errors[0], result.stderr
    assert "no notebook was run" in result.stderr and "===" not in result.stdout and not out.exists()


def test_a_notebook_whose_optional_data_is_absent_is_skipped_but_an_error_when_asked_for(tmp_path):
    folder, out, empty = tmp_path / "nbs", tmp_path / "out", tmp_path / "empty"
    empty.mkdir()
    notebook(folder, "01_runs", "print('ran 01')")
    notebook(folder, "05_faces", "print('ran 05')", requires=["CelebA"])
    result = driver(*tiny_profile(tmp_path), "--notebooks", str(folder), "--data-dir", str(empty), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ran 01" in result.stdout and "ran 05" not in result.stdout
    row = [line for line in result.stdout.splitlines() if line.startswith("05_faces ")][0]
    assert "skipped" in row and "skipped: no CelebA in " in row and "download the aligned CelebA" in row
    assert result.stdout.strip().splitlines()[-1] == "reproduce: 1 ran, 1 skipped (05_faces), 0 failed"
    asked = driver(*tiny_profile(tmp_path), "--notebooks", str(folder), "--data-dir", str(empty), "--out", str(out),
                   "--only", "05")
    assert asked.returncode == 1 and "05_faces.ipynb needs CelebA: no CelebA in" in asked.stderr


def test_a_failed_notebook_never_shows_an_earlier_runs_numbers(tmp_path):
    """Nor its figures: those of an earlier run go, those it wrote before failing stay, other notebooks' stay."""
    folder, out = tmp_path / "nbs", tmp_path / "out"
    notebook(folder, "01_fails", "from pathlib import Path\nPath(out_dir, '01_partial.png').write_bytes(b'new')\n"
                                 "raise ValueError('the data is bad\\nsecond line')",
             params="profile = 'x'\nout_dir = 'x'")
    (out / "results").mkdir(parents=True)
    for old in ("01_fails.png", "01_fails.pdf", "01_fails_detail.png", "02_other.png", "01_partial.png"):
        (out / old).write_bytes(b"old")
        os.utime(out / old, (time.time() - 60, time.time() - 60))
    (out / "results" / "01_fails.json").write_text(json.dumps({"name": "01_fails", "summary": "OLD NUMBERS 0.99"}))
    for table in ("01_fails.md", "01_fails.csv"):  # its tables from the earlier run went too
        (out / "results" / table).write_text("OLD NUMBERS")
    (out / "results" / "01_fails_other.json").write_text("{}")  # another notebook's file stays
    result = driver(*tiny_profile(tmp_path), "--notebooks", str(folder), "--data-dir", str(tmp_path), "--out", str(out))
    assert result.returncode == 1
    row = [line for line in result.stdout.splitlines() if line.startswith("01_fails ")][0]
    assert "FAILED" in row and row.endswith("ValueError: the data is bad") and "OLD NUMBERS" not in result.stdout
    assert sorted(p.name for p in (out / "results").iterdir()) == ["01_fails_other.json"]
    assert sorted(p.name for p in out.glob("0*")) == ["01_partial.png", "02_other.png"]
    assert (out / "01_partial.png").read_bytes() == b"new"
    assert result.stdout.strip().splitlines()[-1] == "reproduce: 0 ran, 0 skipped, 1 failed (01_fails)"


def test_executed_copies_carry_no_local_paths_or_timings(tmp_path):
    from vaeinfo.reproduce import portable_notebook

    folder = REPO / "notebooks"
    executed = tmp_path / "executed" / "00_data.ipynb"
    nb = nbformat.read(folder / "00_data.ipynb", as_version=4)
    nb.metadata["papermill"] = {"input_path": str(folder / "00_data.ipynb"), "output_path": str(executed),
                                "start_time": "2026-01-01T00:00:00", "end_time": "x", "duration": 1.5}
    for cell in nb.cells:
        cell.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 0.1, "status": "completed"}
        cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    injected = nbformat.v4.new_code_cell("profile = 'quick'")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(1, injected)
    executed.parent.mkdir()
    nbformat.write(nb, executed)
    portable_notebook(executed, folder / "00_data.ipynb")
    text = executed.read_text()
    assert '"input_path": "notebooks/00_data.ipynb"' in text and str(REPO) not in text
    for field in ('"start_time"', '"end_time"', '"duration"', '"execution"', "iopub"):
        assert field not in text
    assert '"status": "completed"' in text
    assert nbformat.read(executed, as_version=4).cells[1].id == "injected-parameters"


def test_committed_outputs_carry_no_absolute_local_paths():
    files = subprocess.run(["git", "ls-files", "figures"], capture_output=True, text=True, cwd=REPO,
                           check=True).stdout.split()
    assert len(files) > 20
    offenders = []
    for name in files:
        text = (REPO / name).read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{name}: {root}" for root in ("/root", "/home", "/tmp", "/work", "/Users") if root in text]
    assert not offenders, offenders


# ----------------------------------------------------------------------------- --scheduler / --workers
def test_cluster_parameters_override_the_profile_and_are_checked():
    from vaeinfo.reproduce import check_keys, cluster_parameters

    assert cluster_parameters(None, None) == {}  # the profile's values (if any) stand
    assert cluster_parameters("tcp://10.0.0.5:8786", None) == {"scheduler": "tcp://10.0.0.5:8786", "workers": None}
    assert cluster_parameters("head-node:8786", None)["scheduler"] == "head-node:8786"
    assert cluster_parameters(None, 3) == {"scheduler": None, "workers": 3}
    for scheduler, workers, message in [("8786", None, "a Dask scheduler address such as tcp://HOST:8786"),
                                        ("tcp://a b:1", None, "a Dask scheduler address"),
                                        (None, 0, "positive number of local worker processes, got 0"),
                                        ("tcp://h:1", 2, "not both")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            cluster_parameters(scheduler, workers)
    # A profile may set them even when no notebook declares them (they are the driver's, like out_dir).
    check_keys({"profile": "p", "scheduler": "tcp://h:8786", "workers": 2}, {"01_a": {"profile": "x"}}, Path("p.yaml"))


def test_scheduler_and_workers_reach_only_the_notebooks_that_declare_them(tmp_path):
    folder, out = tmp_path / "nbs", tmp_path / "out"
    notebook(folder, "01_sweep", "print(f'scheduler={scheduler} workers={workers}')",
             params="profile = 'x'\nscheduler = None\nworkers = None")
    notebook(folder, "02_plain", "print('plain ran')")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text("profile: mine\nworkers: 1\n")
    args = ("--profile", "mine", "--params", str(tmp_path / "params"), "--notebooks", str(folder),
            "--data-dir", str(tmp_path), "--out", str(out))
    result = driver(*args, "--scheduler", "tcp://127.0.0.1:8786")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scheduler=tcp://127.0.0.1:8786 workers=None" in result.stdout and "plain ran" in result.stdout
    assert "notebooks that train many models (01) run them on the Dask scheduler at tcp://127.0.0.1:8786" in \
        result.stdout
    unused = driver(*args, "--only", "02", "--workers", "2")  # was announced as if it applied
    assert unused.returncode == 0 and "plain ran" in unused.stdout
    assert "note: none of the notebooks to run trains many models: 2 local worker(s) is not used" in unused.stdout
    injected = [c for c in nbformat.read(out / "executed" / "02_plain.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])][0]
    assert "scheduler" not in injected.source and "workers" not in injected.source
    profile_only = driver(*args, "--only", "01")
    assert profile_only.returncode == 0 and "scheduler=None workers=1" in profile_only.stdout
    bad = driver(*args, "--scheduler", "8786")
    assert bad.returncode == 2 and "--scheduler takes a Dask scheduler address such as tcp://HOST:8786" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("content, message", [
    ("data_dir: /somewhere\n", "mine.yaml: data_dir cannot be set in a profile: give --data-dir DIR"),
    ("out_dir: elsewhere\n", "mine.yaml: out_dir cannot be set in a profile: give --out DIR"),
    ("download: true\n", "mine.yaml: download cannot be set in a profile: give --download"),
    ("interactive: true\n", "mine.yaml: interactive cannot be set in a profile"),
    ("workers: 0\n", "mine.yaml: workers takes a positive number of local worker processes, got 0"),
    ("workers: 2\nscheduler: tcp://h:8786\n", "give mine.yaml: scheduler (an existing Dask cluster) or mine.yaml: "
                                                "workers"),
    ("scheduler: '8786'\n", "mine.yaml: scheduler takes a Dask scheduler address such as tcp://HOST:8786"),
])
def test_a_profile_cannot_set_what_the_driver_sets_or_a_bad_cluster(tmp_path, content, message):
    """These values were passed to the kernels unchecked (data_dir bypassed the data check; a bad workers value
    failed in notebook 08, hours into a paper run) or silently overwritten (out_dir, download, interactive)."""
    folder = tmp_path / "nbs"
    notebook(folder, "01_a", "print('ran')", params="profile = 'x'\ndata_dir = None\nworkers = None\n"
                                                    "scheduler = None")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text(content)
    result = driver("--profile", "mine", "--params", str(tmp_path / "params"), "--notebooks", str(folder),
                    "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_results_are_labelled_with_the_profile_files_name_and_relative_paths_made_absolute(tmp_path):
    """A profile copied from quick.yaml still says profile: quick; its results were labelled quick. A relative
    deap_dir or $VAEINFO_CACHE was checked from the driver's folder and used from notebooks/."""
    folder = tmp_path / "nbs"
    code = "import os\nprint(f'profile={profile} deap={deap_dir} cache={os.environ[\"VAEINFO_CACHE\"]}')"
    notebook(folder, "01_a", code, params="profile = 'x'\ndeap_dir = None")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "mine.yaml").write_text("profile: quick\ndeap_dir: mydeap\n")
    (tmp_path / "mydeap" / "data_preprocessed_python").mkdir(parents=True)
    (tmp_path / "mydeap" / "data_preprocessed_python" / "s01.dat").write_bytes(b"")  # the inventory lists subjects
    result = subprocess.run([sys.executable, "-m", "vaeinfo.reproduce", "--profile", "mine", "--params", "params",
                             "--notebooks", "nbs", "--data-dir", ".", "--out", "out"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=600, env={**os.environ, "VAEINFO_CACHE": "rel-cache"},
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mine.yaml says profile: quick; its results are labelled mine" in result.stdout
    assert f"profile=mine deap={tmp_path / 'mydeap'} cache={tmp_path / 'rel-cache'}" in result.stdout


def test_the_script_reads_a_relative_deap_folder_from_where_it_was_run(tmp_path):
    """reproduce.sh changed to the repository before the driver made $VAEINFO_DEAP absolute: ./deap of the user's
    folder became <repo>/deap ("does not exist")."""
    (tmp_path / "deap").mkdir()  # there, but without DEAP's folders: the inventory names it
    (tmp_path / "empty").mkdir()
    result = subprocess.run(["bash", str(SCRIPT), "--data-dir", "empty", "--only", "06"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=600, stdin=subprocess.DEVNULL,
                            env={**os.environ, "VAEINFO_DEAP": "deap"})
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"DEAP folder {tmp_path / 'deap'} holds neither" in result.stderr, result.stderr[-2000:]


def test_the_script_never_runs_a_vaeinfo_package_of_the_folder_it_was_run_from(tmp_path):
    """``python -m`` puts the working folder first on sys.path: a vaeinfo/ there (another clone, run from inside it)
    was imported instead of this repository's and drove its own notebooks."""
    (tmp_path / "vaeinfo").mkdir()
    (tmp_path / "vaeinfo" / "__init__.py").write_text("")
    (tmp_path / "vaeinfo" / "reproduce.py").write_text("print('SHADOWED')\n")
    result = subprocess.run(["bash", str(SCRIPT), "--only", "99"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=600, stdin=subprocess.DEVNULL)
    assert "SHADOWED" not in result.stdout and result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert f"no notebook numbered 99 in {REPO / 'notebooks'}" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_keeps_the_earlier_executed_copy(tmp_path, signum):
    """papermill wrote the executed copy in place from the first cell: Ctrl-C or SIGTERM left a partial copy, with
    this machine's absolute paths, over the committed one, and a traceback."""
    folder, out, started = tmp_path / "nbs", tmp_path / "out", tmp_path / "started"
    notebook(folder, "01_a", f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)")
    earlier = out / "executed" / "01_a.ipynb"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("the earlier run's copy")
    earlier.with_suffix(".log").write_text("the earlier run's log")  # was emptied as the new run started
    process = subprocess.Popen([sys.executable, "-m", "vaeinfo.reproduce", *tiny_profile(tmp_path), "--notebooks",
                                str(folder), "--data-dir", str(tmp_path), "--out", str(out)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    for _ in range(600):  # the kernel reached the sleeping cell
        if started.exists() or process.poll() is not None:
            break
        time.sleep(0.1)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout[-2000:] + stderr[-2000:]
    # no traceback of the driver (the dying kernel may log one of its own: its sockets close under it)
    assert "reproduce: interrupted" in stderr and "KeyboardInterrupt" not in stderr, stderr[-2000:]
    assert "vaeinfo/reproduce.py" not in stderr and "papermill" not in stderr, stderr[-2000:]
    assert earlier.read_text() == "the earlier run's copy"
    assert earlier.with_suffix(".log").read_text() == "the earlier run's log"
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["01_a.ipynb", "01_a.log"]


def test_a_data_file_that_cannot_be_read_is_one_clear_error(tmp_path, monkeypatch, capsys):
    """A PermissionError (or another OSError) while the inventory read the data folder was a traceback."""
    from vaeinfo import reproduce

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"))

    monkeypatch.setattr(reproduce, "take_inventory", unreadable)
    status = reproduce.main([*tiny_profile(tmp_path), "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1 and "reproduce: error: cannot read the data: [Errno 13] Permission denied: " in err, err
    assert "t10k-labels-idx1-ubyte'. Fix: make it readable to this user" in err and "no notebook was run" in err
    assert not (tmp_path / "out").exists()


def test_the_scripts_test_mode_reads_the_data_folder_given_before_it(mnist_root):
    """``--data-dir DIR --test`` ran the tests without $VAEINFO_DATA: every data test skipped, status 0."""
    env = {key: value for key, value in os.environ.items() if key not in ("VAEINFO_DATA", "CI")}
    result = subprocess.run(["bash", str(SCRIPT), "--data-dir", str(mnist_root), "--test", "-q", "-rs",
                             "-p", "no:cacheprovider", "tests/data/test_mnist.py", "-k", "subset_and_source"],
                            capture_output=True, text=True, cwd=REPO, timeout=600, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and "1 passed" in result.stdout and "skipped" not in result.stdout, \
        result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize("name", ["executed", "results", "local", "screenshots", "../x", ""])
def test_a_profile_named_like_a_folder_of_figures_is_refused(name):
    """Its outputs would land in figures/<name>/ beside (or over) what is not a profile's: e.g. the README's
    screenshots, which a failed notebook 07 of that profile would delete."""
    from vaeinfo.reproduce import load_profile

    with pytest.raises(ValueError, match="bad profile name"):
        load_profile(name)


def test_a_run_on_other_data_than_the_committed_results_says_so(tmp_path):
    """A fresh clone run without data wrote the digits fallback's figures and README rows over the committed MNIST
    ones without a word. Notebooks whose data did not change (09's dSprites fallback, committed so) say nothing."""
    from vaeinfo.reproduce import REPO, data_change_note, data_used

    results = tmp_path / "results"
    results.mkdir()
    for name, data in (("01_mi_pulse", [{"name": "MNIST", "fallback": False}]),
                       ("09_disentanglement", [{"name": "dSprites-procedural", "fallback": True}])):
        (results / f"{name}.json").write_text(json.dumps({"data": data}))
    (results / "02_variance_vs_mi.json").write_text("not json")
    before = data_used(results, ["01_mi_pulse", "02_variance_vs_mi", "09_disentanglement", "05_celeba"])
    assert before == {"01_mi_pulse": ["MNIST"], "09_disentanglement": ["dSprites-procedural (fallback)"]}
    after = {**before, "01_mi_pulse": ["digits (fallback)"]}
    figures = REPO / "figures"
    note = data_change_note(before, after, figures)
    assert note.startswith("reproduce: note: notebooks ran on other data than the results they replaced: "
                           "01_mi_pulse: digits (fallback) (the results it replaced: MNIST).")
    assert "git checkout -- figures README.md" in note and "09_disentanglement" not in note
    assert data_change_note(before, before, figures) is None
    assert data_change_note(before, after, tmp_path / "elsewhere") is None  # a folder of the user's own: no git hint
