"""vaeinfo.sourcecode: what a cache key hashes of Python source; documentation and layout out, code kept exactly."""

from __future__ import annotations

import pytest

from vaeinfo import sourcecode


@pytest.mark.parametrize("source, code", [
    ('"""Module."""\nx = 1  # one\n', "x = 1\n"),
    ('def f(a):\n    """Doc\n    on two lines."""\n\n    return a  # comment\n', "def f(a):\n    return a\n"),
    ('class A:\n    """Doc."""\n    y = "# not a comment"\n', 'class A:\n    y = "# not a comment"\n'),
    ('def f(): """kept: on the line of the def"""\n', 'def f(): """kept: on the line of the def"""\n'),
    ('def f():\n    x = 1\n    """not a docstring: not the first statement"""\n',
     'def f():\n    x = 1\n    """not a docstring: not the first statement"""\n'),
    ('"""Unicode \u2265 before the end."""\r\nx = "\u00d7"   \r\n', 'x = "\u00d7"\n'),
    ('def f():\n    """Doc."""; x = 1  # code after the docstring\n', 'def f():\n    """Doc."""; x = 1\n'),
    # blank lines and trailing spaces inside a string literal are its value, not layout
    ('X = """a  \n\nb"""  \n\n', 'X = """a  \n\nb"""\n'),
])
def test_runnable_source_drops_the_documentation_only(source, code):
    assert sourcecode.runnable_source(source) == code


def test_code_of_a_function_defined_in_a_file_drops_its_docstring_and_dedents():
    def inner(a):
        """Doc."""
        return a + 1  # comment

    assert sourcecode.code_of(inner) == "def inner(a):\n    return a + 1\n"


def test_code_of_an_object_without_a_file_is_none():
    namespace = {}
    exec("def made_here():\n    return 1\n", namespace)  # no source file behind it, as in a notebook cell
    assert sourcecode.code_of(namespace["made_here"]) is None


def test_file_code_ignores_a_byte_order_mark_and_windows_line_endings(tmp_path):
    plain, marked = tmp_path / "plain.py", tmp_path / "marked.py"
    plain.write_bytes(b'"""Doc."""\nx = 1\n')
    marked.write_bytes(b'\xef\xbb\xbf"""Doc."""\r\nx = 1\r\n')
    assert sourcecode.file_code(plain) == sourcecode.file_code(marked) == "x = 1\n"
