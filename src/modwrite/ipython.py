"""modwrite's IPython extension: re-import edited modules from IPython and
Jupyter, with no stale bytecode (G9).

Load it with ``%load_ext modwrite.ipython`` (``pip install modwrite[ipython]``
brings IPython).  It adds two line magics::

    %reimport NAME [NAME ...]    reload these loaded modules now
    %reimport                    reload the loaded modules whose source changed
    %autoreimport on             reload the changed modules before every cell
    %autoreimport update         the same, and update old functions and classes in place
    %autoreimport off            stop
    %autoreimport                show the mode

Reloading is :func:`modwrite.reload` and :func:`modwrite.reload_changed`:
the source on disk now runs, compiled from the bytes read, whatever the
timestamps say.  In ``update`` mode (and with ``%reimport -u``) the old
functions and classes take the new code in place (``modwrite._update``),
so ``from m import f`` and instances of old classes run the new code.

This module is the only one of modwrite that imports IPython; the work is
done by ``modwrite._reload`` and ``modwrite._update``.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
import warnings
import weakref
from types import ModuleType, TracebackType

from IPython.core.error import UsageError

import modwrite

from . import _changes
from ._update import UpdateReport, update_in_place
from .errors import ReloadError, ReloadFailedWarning

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def __dir__() -> list[str]:
    return __all__


_MODES = ("off", "on", "update")

#: The extension's state in each shell it is loaded in.
_loaded: weakref.WeakKeyDictionary[InteractiveShell, _Extension] = weakref.WeakKeyDictionary()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Add ``%reimport`` and ``%autoreimport`` to *ipython* (what
    ``%load_ext modwrite.ipython`` calls).  Loading it again into the same
    shell does nothing: magics and callbacks are registered once."""
    if ipython in _loaded:
        return
    extension = _Extension(ipython)
    _loaded[ipython] = extension
    magics = ipython.magics_manager
    magics.register_function(extension.reimport, "line", "reimport")
    magics.register_function(extension.autoreimport, "line", "autoreimport")


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Remove the magics and the callbacks from *ipython* (what
    ``%unload_ext modwrite.ipython`` calls); the auto mode ends."""
    extension = _loaded.pop(ipython, None)
    if extension is None:
        return
    extension.set_mode("off")
    magics = ipython.magics_manager
    for name in ("reimport", "autoreimport"):
        magics.magics["line"].pop(name, None)
        if hasattr(magics.user_magics, name):
            delattr(magics.user_magics, name)


# modwrite's own modules are never reloaded automatically: a reload would
# replace the records of what ran (modwrite._changes) and the exception
# classes callers catch.
_OWN_PREFIX = __name__.split(".", 1)[0] + "."


def _not_own(modules: Iterable[object]) -> list[ModuleType]:
    return [
        module
        for module in modules
        if isinstance(module, ModuleType) and not (module.__name__ + ".").startswith(_OWN_PREFIX)
    ]


class _Extension:
    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell
        self.mode = "off"

    # -- %autoreimport ---------------------------------------------------------

    def autoreimport(self, line: str) -> None:
        """Reload the modules whose source changed before every cell.

        Usage::

          %autoreimport on       before each cell, reload the loaded modules
                                 whose source file now holds other bytes than
                                 the ones that ran (modwrite.reload_changed())
          %autoreimport update   the same, and update the old functions and
                                 classes in place, so that objects bound
                                 elsewhere (from m import f, instances of old
                                 classes) run the new code; also for %reimport
          %autoreimport off      stop
          %autoreimport          show the mode

        Change is decided by content, not by timestamps: a same-second,
        same-size edit is seen, a touch is not.  The modules reloaded are
        named in one line; a module whose new source fails keeps its old
        version and is reported once, until its file changes again.
        """
        mode = line.strip()
        if not mode:
            print(f"autoreimport: {self.mode}")
            return
        if mode not in _MODES:
            raise UsageError(f"%autoreimport takes on, update or off, not {mode!r}")
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        events = self.shell.events
        if mode == "off":
            for event, callback in self._callbacks():
                if callback in events.callbacks[event]:
                    events.unregister(event, callback)
        elif self.mode == "off":
            for event, callback in self._callbacks():
                if callback not in events.callbacks[event]:
                    events.register(event, callback)
        self.mode = mode

    def _callbacks(self) -> list[tuple[str, Callable[[object], None]]]:
        return [("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)]

    def pre_run_cell(self, info: object = None) -> None:
        """Reload the changed modules (``pre_run_cell`` event)."""
        try:
            self.reload_changed(update=self.mode == "update")
        except Exception as exc:  # never a traceback of modwrite's internals
            _report_internal(exc)

    def post_run_cell(self, result: object = None) -> None:
        """Learn what ran for the modules the cell imported (``post_run_cell``
        event), while their files still hold it: an edit made before the next
        cell is then seen also without a bytecode cache to tell."""
        try:
            _changes.learn_what_ran(_not_own(list(sys.modules.values())))
        except Exception as exc:
            _report_internal(exc)

    def reload_changed(self, *, update: bool) -> list[ModuleType]:
        """:func:`modwrite.reload_changed` over every loaded module but
        modwrite's; report what was reloaded, and each failure once."""
        candidates = _not_own(list(sys.modules.values()))
        snapshots: dict[ModuleType, dict[str, object]] = {}
        if update:
            candidates = modwrite.changed_modules(candidates)
            if not candidates:
                return []
            snapshots = {module: dict(vars(module)) for module in candidates}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ReloadFailedWarning)
            reloaded = modwrite.reload_changed(modules=candidates)
        if reloaded:
            print(f"modwrite: reloaded {', '.join(m.__name__ for m in reloaded)}")
        if update and reloaded:
            self._report_update(update_in_place({m: snapshots[m] for m in reloaded}))
        for record in caught:
            message = record.message
            if isinstance(message, ReloadFailedWarning):
                print(_kept(message.module_name, message.exception), file=sys.stderr)
            else:  # the modules' own warnings, shown as they would have been
                warnings.showwarning(
                    message, record.category, record.filename, record.lineno, record.file
                )
        return reloaded

    # -- %reimport ---------------------------------------------------------------

    def reimport(self, line: str) -> None:
        """Reload modules now, from the source on disk, whatever its timestamps.

        Usage::

          %reimport [-s] [-u] NAME [NAME ...]
          %reimport [-u]

        With names (dotted module names, or names of module objects in the
        namespace), reload each of those loaded modules in place, in that
        order (modwrite.reload()).  Without names, reload every loaded module
        whose source changed (modwrite.reload_changed()).

        -s, --submodules  a package's loaded submodules are reloaded too
        -u, --update      update old functions and classes in place (the
                          default in %autoreimport update mode)

        A module whose new source fails (a syntax error, an exception at
        import) keeps its old version; the error is shown, and the names
        after it are not reloaded.
        """
        __tracebackhide__ = True  # IPython: show the module's frames, not these
        names, submodules, update = _parse_reimport(line)
        update = update or self.mode == "update"
        if not names:
            if submodules:
                raise UsageError("%reimport -s needs module names")
            if not self.reload_changed(update=update):
                print("modwrite: no module changed")
            return
        modules = [self._module_named(name) for name in names]
        for index, module in enumerate(modules):
            family = [module]
            if submodules and hasattr(module, "__path__"):
                prefix = module.__name__ + "."
                family += [m for n, m in list(sys.modules.items()) if n.startswith(prefix)]
            snapshots = {m: dict(vars(m)) for m in family if isinstance(m, ModuleType)}
            rest = ", ".join(m.__name__ for m in modules[index + 1 :])
            not_reloaded = f"; not reloaded: {rest}" if rest else ""
            try:
                modwrite.reload(module, submodules=submodules)
            except ReloadError as exc:  # nothing ran
                failure: BaseException | None = UsageError(f"{exc}{not_reloaded}")
            except Exception as exc:  # the module's own error: its frames, not ours
                print(
                    f"modwrite: {module.__name__} kept its old version{not_reloaded}",
                    file=sys.stderr,
                )
                if isinstance(exc, SyntaxError):
                    failure = _SourceDoesNotCompile(exc)
                else:
                    failure = exc.with_traceback(_user_frames(exc.__traceback__))
            else:
                failure = None
            if update:  # also the submodules whose reload ran before a failure
                self._report_update(update_in_place(snapshots))
            if failure is not None:
                raise failure

    def _module_named(self, name: str) -> ModuleType:
        module = sys.modules.get(name)
        if module is None:
            module = self.shell.user_ns.get(name)
        if not isinstance(module, ModuleType):
            raise UsageError(f"no module named {name!r} is loaded (import it first)")
        return module

    def _report_update(self, report: UpdateReport) -> None:
        for name, reason in report.skipped:
            print(f"modwrite: {name} not updated in place: {reason}", file=sys.stderr)


def _report_internal(exc: Exception) -> None:
    print(f"modwrite: autoreimport failed: {type(exc).__name__}: {exc}", file=sys.stderr)


class _SourceDoesNotCompile(Exception):
    """A module's new source raised *error* (a :class:`SyntaxError`) when
    compiled.  IPython shows a SyntaxError raised by a magic with every frame
    of the magic and of IPython; this one it shows as the SyntaxError alone."""

    def __init__(self, error: SyntaxError) -> None:
        super().__init__(str(error))
        self.error = error
        self.__cause__ = error

    def _render_traceback_(self) -> list[str]:  # IPython's hook
        lines = traceback.format_exception_only(type(self.error), self.error)
        return ["".join(lines).rstrip("\n")]


def _parse_reimport(line: str) -> tuple[list[str], bool, bool]:
    names = []
    submodules = update = False
    for word in line.replace(",", " ").split():
        if word in ("-s", "--submodules"):
            submodules = True
        elif word in ("-u", "--update"):
            update = True
        elif word in ("-su", "-us"):
            submodules = update = True
        elif word.startswith("-"):
            raise UsageError(f"%reimport: unknown option {word!r} (-s, -u)")
        else:
            names.append(word)
    return names, submodules, update


def _kept(name: str, exception: BaseException) -> str:
    """The line that reports a module whose new source failed."""
    message = f"modwrite: {name} kept its old version: {type(exception).__name__}: {exception}"
    if not isinstance(exception, SyntaxError):  # whose message names the file and line
        where = _where(exception.__traceback__)
        if where:
            message += f" ({where})"
    return message


# Frames of modwrite's and of the import system's, not of the module's code.
_INTERNAL = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep,
    "<frozen importlib",
)


def _is_internal(filename: str) -> bool:
    return filename.startswith(_INTERNAL)


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback *tb* without modwrite's and the import system's frames."""
    frames = []
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            frames.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(frames):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def _where(tb: TracebackType | None) -> str:
    """``file:line`` of the innermost frame of the module's code."""
    where = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not _is_internal(filename):
            where = f"{os.path.basename(filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
