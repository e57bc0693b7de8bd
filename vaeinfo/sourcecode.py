"""Python source as code: without comments, docstrings and layout, so that a hash of it changes with the code only.

Cache keys hash what this returns: the training modules and a custom model's classes (``training.checkpoint``), the
dSprites renderer (``data.dsprites``) and the synthetic DEAP generator (``data.deap.synthetic``); an edit of their
documentation keeps every key.
"""

from __future__ import annotations

import ast
import inspect
import io
import os
import textwrap
import tokenize
from pathlib import Path


def code_of(obj) -> str | None:
    """The code of a class, function or module (:func:`runnable_source` of its dedented source, read from its file
    as it is on disk); its raw source where that does not parse alone (e.g. a nested class holding a multi-line
    string at column 0); None where Python finds no source (defined in a notebook cell or an interactive session)."""
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):  # no file behind the object
        return None
    try:
        return runnable_source(textwrap.dedent(source))
    except (SyntaxError, tokenize.TokenError):
        return source


def file_code(path: str | os.PathLike) -> str:
    """:func:`runnable_source` of a Python file (UTF-8; an editor's byte-order mark is not code)."""
    return runnable_source(Path(path).read_bytes().decode("utf-8-sig"))


def runnable_source(source: str) -> str:
    """``source`` (Python) without its comments, docstrings, blank lines and trailing spaces (a multi-line string
    literal other than a docstring is kept exactly); lines end in ``\n``.

    A docstring is dropped with its whole lines (the first statement of a module, class or function when it is a
    string alone on its lines); a comment from its ``#`` to the end of the line.
    """
    lines = source.replace("\r\n", "\n").split("\n")
    literal = set()  # rows that end inside a multi-line string: kept exactly, blank or not
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
        elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
            literal.update(range(token.start[0], token.end[0]))
    for first, last in _docstring_lines(ast.parse(source), lines):
        lines[first - 1:last] = [""] * (last - first + 1)
        literal.difference_update(range(first, last + 1))
    return "".join(f"{line}\n" if row in literal else f"{line.rstrip()}\n"
                   for row, line in enumerate(lines, start=1) if row in literal or line.strip())


def _docstring_lines(tree: ast.Module, lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line numbers, from 1, of the docstrings in ``tree`` that have their lines of ``lines`` to
    themselves (nothing before the opening quotes, nothing but a comment after the closing ones)."""
    spans = []
    for node in ast.walk(tree):
        first = node.body[0] if isinstance(node, _DOCUMENTED) and node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            before = lines[first.lineno - 1].encode()[:first.col_offset]  # ast's columns count UTF-8 bytes
            after = lines[first.end_lineno - 1].encode()[first.end_col_offset:]  # comments already removed
            if not before.strip() and not after.strip():
                spans.append((first.lineno, first.end_lineno))
    return spans


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
