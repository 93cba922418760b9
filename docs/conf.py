"""Sphinx configuration of the modwrite documentation.

Build (warnings are errors, every cross-reference checked)::

    python -m sphinx -W -n --keep-going -b html docs docs/_build/html
    python -m sphinx -b doctest docs docs/_build/doctest

Only Sphinx and its bundled extensions are used.  intersphinx is not (the
builds run without network), so references to the standard library are
listed in ``nitpick_ignore_regex`` below; references to modwrite's own
objects stay checked.
"""

from __future__ import annotations

import os
import sys

# Document the working tree, installed or not (modwrite needs atomicwrites).
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))

import modwrite  # noqa: E402

project = "modwrite"
author = "The modwrite developers"
copyright = "the modwrite developers"  # noqa: A001 - the name Sphinx reads
release = modwrite.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
]

# Parts included into proving.rst and benchmarks.rst, not pages of their own.
exclude_patterns = ["_build", "proving/*", "results/*"]
root_doc = "index"
pygments_style = "sphinx"

# -- autodoc -------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
# Show the public aliases by name instead of expanding them.
autodoc_type_aliases = {
    "FileTree": "modwrite.FileTree",
    "Visibility": "modwrite.Visibility",
}

# -- nitpicky mode ---------------------------------------------------------------

nitpicky = True

_STDLIB_MODULES = (
    "atomicwrites|collections|concurrent|contextlib|contextvars|errno|importlib|inspect|"
    "io|linecache|logging|os|pathlib|pkgutil|queue|runpy|subprocess|sys|threading|"
    "types|typing|warnings"
)
_BUILTINS = (
    "BaseException|Exception|OSError|ValueError|TypeError|SyntaxError|ImportError|"
    "ModuleNotFoundError|UserWarning|Warning|PermissionError|FileNotFoundError|"
    "str|bytes|bytearray|memoryview|float|int|bool|dict|list|tuple|object|None|"
    "compile|open|Ellipsis"
)
nitpick_ignore_regex = [
    # The standard library and atomicwrites: no intersphinx without network.
    (r"py:.*", rf"({_STDLIB_MODULES})(\..*)?"),
    (r"py:.*", rf"({_BUILTINS})"),
    # OSError's attributes, named bare in ModuleWriteError's docstring.
    (r"py:attr", r"(errno|strerror|filename)"),
    # Annotations autodoc cannot resolve (names imported under TYPE_CHECKING
    # beside them), from the types module.
    (r"py:class", r"(ModuleType|CodeType)"),
    # Environment variables documented by CPython.
    (r"envvar", r"PYTHON.*"),
]

# -- doctest -----------------------------------------------------------------------
# Each page creates and removes its own temporary directory in
# ``testsetup``/``testcleanup`` blocks; nothing is shared between pages.

# -- HTML ----------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"modwrite {release}"
html_theme_options = {
    "description": "Write Python modules that are importable at once.",
    "fixed_sidebar": True,
}
