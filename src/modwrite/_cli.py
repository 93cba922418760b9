"""The ``modwrite`` command line (also ``python -m modwrite``).

Exit status: 0 done; 1 the probe found a hazard modwrite did not avoid;
2 usage error; 3 invalid input (name, source, syntax); 4 a conflict on disk;
5 the write failed, or ``clean`` could not remove a leftover (errno in the
message).  Errors go to stderr as
``modwrite: error: ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePath, PurePosixPath

from . import __version__
from ._clean import clean
from ._probe import STEPS, as_dict, format_report, probe
from ._write import write_module, write_package
from .errors import (
    ArgumentTypeError,
    InvalidArgument,
    ModuleConflictError,
    ModuleSyntaxError,
    ModuleWriteError,
    ModwriteWarning,
)

__all__ = ["main"]

EXIT_OK, EXIT_HAZARD, EXIT_USAGE, EXIT_INVALID, EXIT_CONFLICT, EXIT_WRITE = 0, 1, 2, 3, 4, 5

_SKIPPED_DIRS = {"__pycache__", ".git", ".hg", ".svn"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modwrite",
        description="Write Python modules and packages that are importable at once, "
        "in every process, on every filesystem, with no stale bytecode.",
        epilog="exit status: 0 ok, 1 hazard not avoided (probe), 2 usage, 3 invalid input, "
        "4 conflict on disk, 5 write (or clean) failed",
    )
    parser.add_argument("--version", action="version", version=f"modwrite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "probe",
        help="measure a directory's import hazards and modwrite against them",
        description="Measure DIR's timestamp tick; reproduce whether a plain write-then-import "
        "misses the new module and whether a same-size same-second rewrite runs stale "
        "bytecode (bytecode writing on); show that modwrite's writes avoid both.",
    )
    p.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="directory to probe (default: the current directory)",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=50,
        metavar="N",
        help="iterations of each check (default: 50)",
    )
    p.add_argument(
        "--quick",
        action="store_const",
        const=10,
        dest="trials",
        help="a quick look: 10 iterations of each check",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show each step on stderr as it runs (default: when stderr is a terminal)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root", required=True, metavar="DIR", help="directory on sys.path to write under"
    )
    common.add_argument("--parents", action="store_true", help="create missing parent packages")
    common.add_argument("--create-root", action="store_true", help="create DIR if missing")
    common.add_argument(
        "--visibility",
        choices=("system", "process"),
        default="system",
        help="'system' (default): other processes see it on return; "
        "'process': never wait on the clock",
    )
    common.add_argument(
        "--durable", action="store_true", help="fsync file and directory (crash-durable)"
    )

    w = sub.add_parser(
        "write",
        parents=[common],
        help="write one module",
        description="Write module NAME from FILE (or stdin when FILE is - "
        "or missing) under --root; print the written path.",
    )
    w.add_argument("name", metavar="NAME", help="dotted module name")
    w.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="source file, or - for stdin (default)",
    )

    k = sub.add_parser(
        "package",
        parents=[common],
        help="write a package from a directory",
        description="Land the tree SRC_DIR as package NAME under --root, "
        "replacing any old package whole (__pycache__ is skipped).",
    )
    k.add_argument("name", metavar="NAME", help="dotted package name")
    k.add_argument("source_dir", metavar="SRC_DIR", help="directory holding the package's files")

    c = sub.add_parser(
        "clean",
        help="remove temporary files left by crashed writes",
        description="Remove the temporary entries interrupted writes left under ROOT and "
        "put back packages a crash left missing. Entries of a writer that is still running "
        "are never touched; entries made on another host or in another container count "
        "as left over once older than --min-age. Exit status 5 when one could not be "
        "removed.",
    )
    c.add_argument("root", metavar="ROOT")
    c.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="age after which entries made on another host or in another PID namespace "
        "are removed (default: 3600)",
    )
    c.add_argument("--dry-run", action="store_true", help="list, do not remove")
    return parser


def _error(message: str, status: int) -> int:
    print(f"modwrite: error: {message}", file=sys.stderr)
    return status


def _read_tree(source_dir: str) -> dict[str | PurePath, bytes]:
    """The files of *source_dir* keyed by relative path (paths, not module
    names: data files such as ``py.typed`` keep their names)."""
    files: dict[str | PurePath, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(source_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for filename in sorted(filenames):
            if filename.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath, filename)
            files[PurePosixPath(path.relative_to(source_dir).as_posix())] = path.read_bytes()
    return files


def _clean_command(root: str, min_age: float, dry_run: bool) -> int:
    if not os.path.isdir(root):
        return _error(f"{root!r} is not a directory", EXIT_USAGE)
    try:
        report = clean(root, min_age=min_age, dry_run=dry_run)
    except OSError as exc:
        return _error(f"cannot list {root!r}: {exc.strerror}", EXIT_WRITE)
    would = "would " if dry_run else ""
    for parked, package in report.restored:
        print(f"{would}restore {package} from {parked}" if dry_run else f"restored {package}")
    for path in report.removed:
        print(f"{would}remove {path}" if dry_run else f"removed {path}")
    for path, failure in report.failed:
        print(f"modwrite: cannot remove {path}: {failure.strerror or failure}", file=sys.stderr)
    done = len(report.removed) + len(report.restored)
    verb = "found" if dry_run else "cleaned"
    print(f"{done} leftover(s) {verb}, {len(report.failed)} failed", file=sys.stderr)
    return EXIT_WRITE if report.failed else EXIT_OK


def _show_progress(step: int, name: str, seconds: float | None) -> None:
    """``modwrite probe``'s progress line on stderr: each step as it starts,
    then its time."""
    if seconds is None:
        print(f"probe [{step}/{len(STEPS)}] {name} ...", end="", file=sys.stderr, flush=True)
    else:
        print(f" {seconds:.1f} s", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.command == "probe":
        if args.trials < 1:
            return _error("--trials must be at least 1", EXIT_USAGE)
        if not os.path.isdir(args.directory):
            return _error(f"{args.directory!r} is not a directory", EXIT_USAGE)
        show = sys.stderr.isatty() if args.progress is None else args.progress
        report = probe(
            args.directory, trials=args.trials, progress=_show_progress if show else None
        )
        print(json.dumps(as_dict(report), indent=2) if args.json else format_report(report))
        hazards = (
            report.modwrite_import_misses.failures
            + report.modwrite_process_import_misses.failures
            + report.modwrite_stale_bytecode.failures
        )
        return EXIT_HAZARD if hazards else EXIT_OK
    if args.command == "clean":
        return _clean_command(args.root, args.min_age, args.dry_run)
    options = dict(
        root=args.root,
        parents=args.parents,
        create_root=args.create_root,
        visibility=args.visibility,
        durable=args.durable,
    )
    if args.command == "write":
        try:
            source = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        except OSError as exc:
            return _error(f"cannot read {args.file!r}: {exc.strerror}", EXIT_USAGE)
        print(write_module(args.name, source, **options))
        return EXIT_OK
    if not os.path.isdir(args.source_dir):
        return _error(f"{args.source_dir!r} is not a directory", EXIT_USAGE)
    print(write_package(args.name, _read_tree(args.source_dir), **options))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return
    the exit status."""
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", ModwriteWarning)
        try:
            return _run(args)
        except ModuleSyntaxError as exc:
            return _error(str(exc), EXIT_INVALID)
        except (InvalidArgument, ArgumentTypeError) as exc:
            return _error(str(exc), EXIT_INVALID)
        except ModuleConflictError as exc:
            return _error(f"{exc.strerror} ({exc.filename})", EXIT_CONFLICT)
        except ModuleWriteError as exc:
            return _error(str(exc), EXIT_WRITE)
