"""vaeinfo.results: the results tables (markdown, CSV, atomic .md/.csv files) with exact expected text."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vaeinfo import results
from vaeinfo.results import csv_table, markdown_table, results_table, save_table

REPO = Path(__file__).resolve().parent.parent

HEADER = ["kept", "k", "by MI", "random"]
ROWS = [["100 %", 128, "0.9712", "0.9712"], ["10 %", 13, "0.9650", "0.2113"]]


def test_a_pipe_or_line_break_in_a_cell_keeps_the_row_in_its_columns():
    table = markdown_table(["quantity", "value"], [["log p(x|z) at\nepoch 100", 1.5]])
    assert table.splitlines()[-1] == r"| log p(x\|z) at epoch 100 | 1.5 |"


def test_markdown_table_right_aligns_every_column():
    assert markdown_table(HEADER, ROWS) == (
        "| kept | k | by MI | random |\n"
        "|---:|---:|---:|---:|\n"
        "| 100 % | 128 | 0.9712 | 0.9712 |\n"
        "| 10 % | 13 | 0.9650 | 0.2113 |"
    )


def test_markdown_table_with_a_plain_separator_and_no_rows():
    assert markdown_table(["a", "b"], [], separator="---") == "| a | b |\n|---|---|"


def test_csv_table_ends_every_line_and_quotes_only_when_needed():
    assert csv_table(["percent", "k", "by MI"], [[100, 128, "0.971234"], [10, 13, "a,b"]]) == (
        "percent,k,by MI\n100,128,0.971234\n10,13,\"a,b\"\n"
    )


def test_save_table_writes_md_with_a_final_newline_and_the_csv(tmp_path):
    stem = tmp_path / "results" / "04_table"
    paths = save_table(stem, "Data: x\n\n" + markdown_table(["k"], [[1]]), csv_table(["k"], [[1]]))
    assert [p.name for p in paths] == ["04_table.md", "04_table.csv"]
    assert (tmp_path / "results" / "04_table.md").read_bytes() == b"Data: x\n\n| k |\n|---:|\n| 1 |\n"
    assert (tmp_path / "results" / "04_table.csv").read_bytes() == b"k\n1\n"
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["04_table.csv", "04_table.md"]  # no temps


def test_save_table_without_csv_writes_only_the_md(tmp_path):
    assert save_table(tmp_path / "06_t", "| k |") == [tmp_path / "06_t.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["06_t.md"]


def test_results_table_lists_each_notebook(tmp_path):
    record = {"name": "01_mi_pulse", "summary": "3 of 8 factors", "profile": "smoke",
              "data": [{"name": "mnist", "fallback": False}, {"name": "digits", "fallback": True}]}
    (tmp_path / "01_mi_pulse.json").write_text(json.dumps(record))
    assert results_table(tmp_path) == (
        "| notebook | result | profile | data |\n|---|---|---|---|\n"
        "| [01_mi_pulse](figures/executed/01_mi_pulse.ipynb) | 3 of 8 factors | smoke | digits (fallback), mnist |"
    )


# ----------------------------------------------------------------------------- paper vs here
def test_measured_walks_paths_picks_by_a_key_and_reduces():
    from vaeinfo.results import measured

    numbers = {"percent": [100, 10, 1], "accuracy": {"by MI": [0.98, 0.93, 0.19]}, "influential": [4, 7, 9],
               "mi_nats": [0.1, 2.5, 0.7]}
    assert measured(numbers, ["accuracy", "by MI"], at={"percent": 10}) == 0.93
    assert measured(numbers, ["influential"], reduce="len") == 3
    assert measured(numbers, ["mi_nats"], reduce="max") == 2.5
    assert measured(numbers, ["mi_nats"], reduce="sum") == pytest.approx(3.3, abs=1e-12)
    assert measured({"val_loss": -479.9}, ["val_loss"], reduce="negate") == 479.9
    numbers["top"] = [2, 1]
    assert measured(numbers, ["mi_nats"], select=["top"]) == [0.7, 2.5]
    assert measured(numbers, ["mi_nats"], select=["top"], reduce="min") == 0.7
    with pytest.raises(IndexError):
        measured(numbers, ["mi_nats"], select=["influential"])  # index 4 of a 3-list: an error, never a guess
    with pytest.raises(ValueError):
        measured(numbers, ["accuracy", "by MI"], at={"percent": 7})  # no such percent: an error, never a guess
    with pytest.raises(KeyError):
        measured(numbers, ["variance"])
    with pytest.raises(ValueError, match="unknown reduce"):
        measured(numbers, ["mi_nats"], reduce="mean")
    # NaN of a run, written as null: not defined, alone or in a reduction; still counted by len
    undefined = {"mi_nats": [0.1, None], "loss": None}
    assert measured(undefined, ["loss"]) is None and measured(undefined, ["loss"], reduce="negate") is None
    assert [measured(undefined, ["mi_nats"], reduce=r) for r in ("max", "min", "sum", "len")] == [None, None, None, 2]


def test_the_committed_references_name_results_that_the_notebooks_write():
    import yaml

    from vaeinfo.results import REDUCERS, measured, profile_results

    references = yaml.safe_load((REPO / "params" / "references" / "authors.yaml").read_text())
    assert len(references) >= 10
    committed = 0
    for ref in references:
        assert {"quantity", "source", "reference", "profile", "notebook", "path"} <= ref.keys(), ref
        assert (REPO / "notebooks" / f"{ref['notebook']}.ipynb").is_file() and ref.get("reduce", "len") in REDUCERS
        assert (REPO / "params" / f"{ref['profile']}.yaml").is_file()
        results = profile_results(REPO / "figures", ref["profile"]) / f"{ref['notebook']}.json"
        if results.is_file():  # a committed run: the row must find a finite number in it
            numbers = json.loads(results.read_text())["results"]
            value = measured(numbers, ref["path"], at=ref.get("at"), select=ref.get("select"), reduce=ref.get("reduce"))
            assert isinstance(value, (int, float)) and math.isfinite(value), (ref["quantity"], value)
            committed += 1
    assert committed >= 10  # the official profile's results are committed


def test_references_table_puts_each_reference_beside_the_measured_value(tmp_path):
    from vaeinfo.io import atomic_write_json
    from vaeinfo.results import references_table

    figures = tmp_path / "figures"
    atomic_write_json(figures / "official" / "results" / "01_mi_pulse.json",
                      {"results": {"influential": [1, 2, 3, 4, 5], "mi_nats": [3.05, 0.2], "ratio": float("nan")}})
    references = [
        {"quantity": "influential factors", "source": "notebook cell 9", "reference": 7, "profile": "official",
         "notebook": "01_mi_pulse", "path": ["influential"], "reduce": "len"},
        {"quantity": "largest MI (nats)", "source": "Fig. 1", "reference": 3.2, "approximate": True,
         "profile": "official", "notebook": "01_mi_pulse", "path": ["mi_nats"], "reduce": "max", "digits": 2,
         "note": "read off the figure"},
        {"quantity": "accuracy", "source": "Table 1", "reference": 0.9, "profile": "paper", "notebook": "04_x",
         "path": ["accuracy"]},
        {"quantity": "val loss", "source": "cell 16", "reference": 531.5, "profile": "official",
         "notebook": "01_mi_pulse", "path": ["val_loss"], "reduce": "negate"},
        {"quantity": "MI at factor 7", "source": "cell 9", "reference": 0.1, "profile": "official",
         "notebook": "01_mi_pulse", "path": ["mi_nats"], "at": {"influential": 7}},
        {"quantity": "ratio", "source": "Table 2", "reference": 1.5, "profile": "official", "notebook": "01_mi_pulse",
         "path": ["ratio"]},
        {"quantity": "all MI", "source": "Fig. 1", "reference": 3.0, "profile": "official", "notebook": "01_mi_pulse",
         "path": ["mi_nats"]},
    ]
    lines = references_table(references, figures).splitlines()
    assert lines[0] == "| quantity | source | reference | here | profile | here − reference | note |"
    link = "[official](figures/official/results/01_mi_pulse.json)"
    assert lines[2] == f"| influential factors | notebook cell 9 | 7 | 5 | {link} | -2 |  |"
    assert lines[3] == f"| largest MI (nats) | Fig. 1 | ≈ 3.2 | 3 | {link} | ≈ -0.15 | read off the figure |"
    assert lines[4] == "| accuracy | Table 1 | 0.9 | not run | paper | - |  |"
    # a results file from before the notebook wrote val_loss: the row says so, the table is still written
    missing = "not in this run's results (rerun: `--profile official`)"
    assert lines[5] == f"| val loss | cell 16 | 532 | {missing} | {link} | - |  |"
    # a run whose grid lacks the entry a row picks (the profile's grid edited): said the same way
    assert lines[6] == f"| MI at factor 7 | cell 9 | 0.1 | {missing} | {link} | - |  |"
    # a NaN of the run (null in the file): said, not a crash
    assert lines[7] == f"| ratio | Table 2 | 1.5 | not defined (NaN in this run's results) | {link} | - |  |"
    # a row whose path ends at a list (no reduce): said, not a TypeError that stopped the driver before its summary
    shown = "not a number (list at that path: give the row an 'at', 'select' or 'reduce')"
    assert lines[8] == f"| all MI | Fig. 1 | 3 | {shown} | {link} | - |  |"


def test_two_runs_updating_sections_of_one_readme_keep_both_updates(tmp_path, monkeypatch):
    """Both read the README, each wrote back the other's section as it had read it: one table was lost."""
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "cache"))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- a -->\nold a\n<!-- /a -->\nmiddle\n<!-- b -->\nold b\n<!-- /b -->\nend\n")
    write = results.atomic_write_text

    def slow_write(path, text):  # a slow disk: the other run reads while this one has read and not yet written
        time.sleep(0.3)
        write(path, text)

    monkeypatch.setattr(results, "atomic_write_text", slow_write)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda args: results.replace_section(readme, *args),
                      [("<!-- a -->", "<!-- /a -->", "new a"), ("<!-- b -->", "<!-- /b -->", "new b")]))
    assert readme.read_text() == "intro\n<!-- a -->\nnew a\n<!-- /a -->\nmiddle\n<!-- b -->\nnew b\n<!-- /b -->\nend\n"
