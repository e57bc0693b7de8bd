"""vaeinfo.results: the results tables (markdown, CSV, atomic .md/.csv files) with exact expected text."""

from __future__ import annotations

import json

from vaeinfo.results import csv_table, markdown_table, results_table, save_table

HEADER = ["kept", "k", "by MI", "random"]
ROWS = [["100 %", 128, "0.9712", "0.9712"], ["10 %", 13, "0.9650", "0.2113"]]


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
