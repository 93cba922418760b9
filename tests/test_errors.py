"""The exception set: built-in bases, structured attributes, pickling."""

from __future__ import annotations

import errno
import pickle

import pytest

import modwrite
from modwrite import errors


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (modwrite.ArgumentTypeError("x"), TypeError),
        (modwrite.InvalidArgument("x"), ValueError),
        (modwrite.InvalidModuleName("a..b", "empty part"), ValueError),
        (modwrite.InvalidSource("m", "NUL"), ValueError),
        (modwrite.ModuleSyntaxError("m", "invalid syntax", "m.py", 3, 7, "x = ("), SyntaxError),
        (modwrite.ModuleWriteError(errno.ENOSPC, "No space left", "/r/m.py"), OSError),
        (modwrite.ModuleConflictError.shadowing("/r/m", "package shadows"), OSError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
def test_every_error_is_a_modwrite_error_and_its_builtin_and_pickles(
    error: modwrite.ModwriteError, builtin: type[BaseException]
) -> None:
    assert isinstance(error, modwrite.ModwriteError)
    assert isinstance(error, builtin)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)


def test_write_error_keeps_errno_and_filename() -> None:
    error = modwrite.ModuleWriteError(errno.EROFS, "Read-only file system", "/r")
    assert (error.errno, error.filename) == (errno.EROFS, "/r")
    assert error.strerror == "Read-only file system"
    assert "Read-only" in str(error)


def test_syntax_error_names_module_line_and_column() -> None:
    error = modwrite.ModuleSyntaxError("pkg.mod", "invalid syntax", "m.py", 3, 7, "x = (")
    assert (error.module, error.lineno, error.offset, error.filename) == ("pkg.mod", 3, 7, "m.py")
    assert "'pkg.mod'" in str(error) and "column 7" in str(error) and "line 3" in str(error)


def test_public_classes_claim_the_public_module() -> None:
    for name in errors.__all__:
        assert getattr(errors, name).__module__ == "modwrite"
        assert getattr(modwrite, name) is getattr(errors, name)


def test_visibility_warning_is_a_user_warning() -> None:
    assert issubclass(modwrite.VisibilityWarning, modwrite.ModwriteWarning)
    assert issubclass(modwrite.ModwriteWarning, UserWarning)
