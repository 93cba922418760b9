#!/usr/bin/env python3
"""Run real projects' test suites stock and with modwrite's machinery installed.

Each project is pinned: its sdist is fetched from PyPI, unpacked, and installed
with pinned test dependencies into a venv made with the chosen interpreter,
together with a snapshot of this checkout of modwrite.  The suite then runs
twice from a fresh copy of the sdist: once stock, and once with a ``.pth``
file in the venv's site-packages whose line is ``import modwrite;
modwrite.install()``, so that every Python process the suite starts (pytester
subprocesses, console scripts, ``sys.executable -c ...``) runs with modwrite's
finders and loaders.  Per-test outcomes (from ``--junitxml``) are compared.

Exit status: 0 no test gets worse with the machinery installed; 1 some test
passes stock but not installed (fails, errors, is skipped or is not
collected), confirmed by a rerun of its file in both modes; 2 setup problem.

    python3 tools/realworld.py                      # hy and pytest, CI subset
    python3 tools/realworld.py --python 3.11 --subset full
    python3 tools/realworld.py pytest -- testing/test_pathlib.py

Stdlib only; runs on CPython 3.9 to 3.13 (the interpreter under test may
differ: ``--python``).
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_SETUP = 2

REPO_ROOT = Path(__file__).resolve().parent.parent
PTH_NAME = "modwrite_realworld.pth"
PTH_LINE = "import modwrite; modwrite.install()\n"
MODES = ("stock", "installed")

#: More regressions than this in one project are systematic, not flakes: no rerun.
RERUN_LIMIT = 50

#: Environment variables dropped from every run (both modes alike): they would
#: hide bugs (no bytecode), leak this shell's setup into the suite, or change
#: the projects' own output checks.
DROPPED_ENV = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONWARNINGS",
    "PYTHONDEVMODE",
    "PYTHONPYCACHEPREFIX",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    "PYTEST_THEME",
    "PYTEST_THEME_MODE",
    "VIRTUAL_ENV",
    "CI",
    "BUILD_NUMBER",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "IPYTHONDIR",
    "HYSTARTUP",
)

# Pins shared by several projects (runtime and test dependencies of pytest).
_PYTEST_RUNTIME = (
    "pytest==9.2.0; python_version >= '3.10'",
    "pytest==8.4.2; python_version < '3.10'",
    "iniconfig==2.3.1; python_version >= '3.10'",
    "iniconfig==2.1.0; python_version < '3.10'",
    "pluggy==1.7.0; python_version >= '3.10'",
    "pluggy==1.6.0; python_version < '3.10'",
    "packaging==26.3",
    "Pygments==2.21.0",
    "exceptiongroup==1.3.2; python_version < '3.11'",
    "tomli==2.5.0; python_version < '3.11'",
    "typing_extensions==4.16.0; python_version < '3.13'",
)


@dataclasses.dataclass(frozen=True)
class Project:
    """One pinned project and how to run its suite."""

    name: str
    dist: str
    version: str
    min_python: tuple[int, int]
    #: Pinned requirements installed next to the project (PEP 508 markers allowed).
    pins: tuple[str, ...]
    #: Test paths per subset (relative to the sdist's root).
    paths: dict[str, tuple[str, ...]]
    #: pytest options given in both modes, before the paths.
    options: tuple[str, ...] = ()
    #: Timeout of one run (seconds) per subset.
    timeout: dict[str, int] = dataclasses.field(default_factory=dict)
    note: str = ""


PROJECTS: dict[str, Project] = {
    p.name: p
    for p in (
        Project(
            name="hy",
            dist="hy",
            version="1.3.1",
            min_python=(3, 9),
            pins=("funcparserlib==1.0.1", *_PYTEST_RUNTIME),
            paths={"ci": ("tests",), "full": ("tests",)},
            timeout={"ci": 300, "full": 300},
            note="the sdist ships tests/ only (no native .hy tests); Hy imports .hy files by "
            "adding '.hy' to importlib.machinery.SOURCE_SUFFIXES at run time",
        ),
        Project(
            name="pytest",
            dist="pytest",
            version="9.2.0",
            min_python=(3, 10),
            pins=(
                *_PYTEST_RUNTIME[2:],
                "argcomplete==3.7.2",
                "attrs==26.1.0",
                "hypothesis==6.170.17; python_version >= '3.11'",
                "hypothesis==6.168.5; python_version < '3.11'",
                "sortedcontainers==2.4.0",
                "mock==5.2.0",
                "numpy==2.5.5; python_version >= '3.12'",
                "numpy==2.4.6; python_version == '3.11'",
                "numpy==2.2.6; python_version < '3.11'",
                "pexpect==4.9.0",
                "ptyprocess==0.7.0",
                "pytest-xdist==3.8.0",
                "execnet==2.1.2",
                "PyYAML==6.0.4",
                "requests==2.34.2",
                "certifi==2026.10.19.post1",
                "charset-normalizer==3.5.3",
                "idna==3.20",
                "urllib3==2.8.0",
                "setuptools==84.2.1",
                "xmlschema==4.3.2",
                "elementpath==5.1.4",
                "asynctest==0.13.0; python_version < '3.11'",
            ),
            paths={
                # Import-heavy files: module import by path and by name,
                # conftest and plugin loading, assertion rewriting (a meta
                # path finder over modwrite's), pytester subprocesses,
                # doctest modules, namespace packages, --pyargs.  About 50 s
                # a run on a 2-core machine.
                "ci": (
                    "testing/test_assertrewrite.py",
                    "testing/test_assertrewrite_coverage.py",
                    "testing/test_pathlib.py",
                    "testing/test_collection.py",
                    "testing/test_collect_imported_tests.py",
                    "testing/test_conftest.py",
                    "testing/python/collect.py",
                    "testing/python/integration.py",
                    "testing/test_pytester.py",
                    "testing/test_python_path.py",
                    "testing/test_main.py",
                    "testing/test_pluginmanager.py",
                    "testing/test_monkeypatch.py",
                    "testing/test_doctest.py",
                    "testing/test_session.py",
                    "testing/test_nodes.py",
                    "testing/test_link_resolve.py",
                    "testing/test_legacypath.py",
                    "testing/acceptance_test.py",
                ),
                "full": ("testing",),
            },
            # Two xdist workers (pytest's own CI runs its suite under xdist):
            # on 2 cores the run takes about half the time.
            options=("-n", "2"),
            timeout={"ci": 600, "full": 2400},
        ),
        Project(
            name="jinja2",
            dist="Jinja2",
            version="3.1.6",
            min_python=(3, 9),
            pins=(
                "MarkupSafe==3.0.4; python_version >= '3.10'",
                "MarkupSafe==3.0.2; python_version < '3.10'",
                "trio==0.35.0; python_version >= '3.10'",
                "trio==0.27.0; python_version < '3.10'",
                "attrs==26.1.0; python_version >= '3.10'",
                "attrs==24.3.0; python_version < '3.10'",
                "outcome==1.3.0.post0",
                "sniffio==1.3.1",
                "sortedcontainers==2.4.0",
                "idna==3.20; python_version >= '3.10'",
                "idna==3.10; python_version < '3.10'",
                *_PYTEST_RUNTIME,
            ),
            paths={"ci": ("tests",), "full": ("tests",)},
            timeout={"ci": 600, "full": 600},
        ),
        Project(
            name="ipython",
            dist="ipython",
            version="9.18.1",
            min_python=(3, 11),
            pins=(
                *_PYTEST_RUNTIME[2:],
                "pytest-asyncio==1.5.0",
                "testpath==0.6.0",
                "setuptools==84.2.1",
                "asttokens==3.0.2",
                "executing==2.3.0",
                "ipython_pygments_lexers==1.1.1",
                "jedi==0.20.1",
                "parso==0.8.7",
                "matplotlib-inline==0.2.2",
                "traitlets==5.16.1",
                "pexpect==4.9.0",
                "ptyprocess==0.7.0",
                "prompt_toolkit==3.0.53",
                "wcwidth==0.9.4",
                "psutil==7.2.2",
                "pure_eval==0.2.4",
                "stack-data==0.6.3",
            ),
            paths={
                "ci": (
                    "tests/test_completerlib.py",
                    "tests/test_run.py",
                    "tests/test_extension.py",
                    "tests/test_module_paths.py",
                    "tests/test_imports.py",
                    "tests/test_importstring.py",
                    "tests/test_deepreload.py",
                    "tests/test_zzz_autoreload.py",
                ),
                # The project's own testpaths: IPython/ (doctests) and tests/.
                "full": (),
            },
            timeout={"ci": 600, "full": 1800},
        ),
    )
}

DEFAULT_PROJECTS = {"ci": ("hy", "pytest"), "full": ("hy", "pytest", "jinja2", "ipython")}


class SetupError(Exception):
    """A problem that is not the machinery's: exit status 2."""


# -- small helpers ---------------------------------------------------------------


def say(message: str = "") -> None:
    print(message, flush=True)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    | " + line for line in text.splitlines()[-lines:])


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in DROPPED_ENV:
        env.pop(name, None)
    return env


def check_call_logged(
    cmd: Sequence[str], log: Path, what: str, env: dict[str, str], cwd: Path | None = None
) -> None:
    """Run a setup command, its output appended to *log*; SetupError if it fails."""
    with log.open("ab") as out:
        out.write(("\n$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        rc = subprocess.call(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
    if rc != 0:
        raise SetupError(f"{what} failed (exit {rc}); log {log}:\n{tail(log)}")


def kill_group(pid: int) -> None:
    """End the process group *pid* that this script started (the suite and
    anything it left running)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_logged(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path, timeout: float
) -> tuple[int | None, float]:
    """Run *cmd* in its own session, output to *log*.  Returns (exit code or
    None on timeout, seconds)."""
    start = time.monotonic()
    with log.open("wb") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()
            rc = None
        except BaseException:
            kill_group(proc.pid)
            proc.wait()
            raise
        kill_group(proc.pid)  # leftovers of the suite (daemons, stuck children)
    return rc, time.monotonic() - start


# -- interpreter -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # "3.11.7"

    @property
    def minor(self) -> tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)


def _pyenv_candidates(want: str) -> list[Path]:
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"]
    found: list[tuple[tuple[int, ...], Path]] = []
    for root in roots:
        versions = Path(root) / "versions" if root else None
        if versions is None or not versions.is_dir():
            continue
        for entry in versions.iterdir():
            name = entry.name
            if not re.fullmatch(r"\d+\.\d+\.\d+", name):
                continue
            if name != want and not name.startswith(want + "."):
                continue
            exe = entry / "bin" / "python3"
            if exe.exists():
                found.append((tuple(int(x) for x in name.split(".")), exe))
    found.sort()
    return [exe for _, exe in reversed(found)]


def resolve_python(spec: str | None) -> Interpreter:
    """The interpreter named by ``--python``: a path, a command, or a version
    (``3.11`` or ``3.11.7``, found among pyenv's versions or as ``python3.11``)."""
    path: str | None = None
    if spec is None:
        path = sys.executable
    elif os.sep in spec or Path(spec).is_file():
        path = spec
    elif re.fullmatch(r"\d+\.\d+(\.\d+)?", spec):
        candidates = _pyenv_candidates(spec)
        if candidates:
            path = str(candidates[0])
        else:
            path = shutil.which("python" + ".".join(spec.split(".")[:2]))
    else:
        path = shutil.which(spec)
    if not path:
        raise SetupError(f"no Python interpreter found for --python {spec!r}")
    probe = (
        "import platform, sys; print(platform.python_implementation(), platform.python_version())"
    )
    try:
        out = subprocess.run(
            [path, "-c", probe], capture_output=True, text=True, check=True, timeout=60
        ).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(f"cannot run {path}: {exc}") from exc
    if out[0] != "CPython":
        raise SetupError(f"{path} is {out[0]}; modwrite supports CPython only")
    version = re.sub(r"[^0-9.].*$", "", out[1])
    if (
        spec
        and re.fullmatch(r"\d+\.\d+(\.\d+)?", spec)
        and not (version + ".").startswith(spec + ".")
    ):
        raise SetupError(f"{path} is CPython {version}, not {spec}")
    return Interpreter(Path(path), version)


# -- sdists, venvs, modwrite -----------------------------------------------------


def fetch_sdist(project: Project, workdir: Path, pip_python: Path, fresh: bool) -> Path:
    """The project's sdist, downloaded once into the workdir's cache."""
    where = workdir / "sdists" / f"{project.dist.lower()}-{project.version}"
    if fresh and where.exists():
        shutil.rmtree(where)
    archives = [p for p in where.glob("*") if p.name.endswith((".tar.gz", ".zip"))]
    if len(archives) == 1:
        return archives[0]
    if where.exists():
        shutil.rmtree(where)
    partial = where.with_name(where.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log = workdir / "logs" / f"download-{project.name}-{project.version}.log"
    log.unlink(missing_ok=True)
    check_call_logged(
        [
            str(pip_python),
            "-m",
            "pip",
            "download",
            "--no-input",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(partial),
            f"{project.dist}=={project.version}",
        ],
        log,
        f"downloading the sdist of {project.dist}=={project.version}",
        base_env(),
    )
    archives = [p for p in partial.glob("*") if p.name.endswith((".tar.gz", ".zip"))]
    if len(archives) != 1:
        raise SetupError(f"expected one sdist in {partial}, found {archives}")
    partial.rename(where)
    return where / archives[0].name


def extract(archive: Path, dest: Path) -> Path:
    """Unpack *archive* into a new *dest*; return the sdist's root directory."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise SetupError(f"unsafe path {name!r} in {archive}")
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, filter="data")
            else:  # pragma: no cover - CPython before the 2023 security releases
                for member in tf.getmembers():
                    parts = Path(member.name).parts
                    if member.name.startswith("/") or ".." in parts:
                        raise SetupError(f"unsafe path {member.name!r} in {archive}")
                    if not (member.isfile() or member.isdir()):
                        raise SetupError(f"unexpected member {member.name!r} in {archive}")
                tf.extractall(dest)
    roots = [p for p in dest.iterdir()]
    if len(roots) != 1 or not roots[0].is_dir():
        raise SetupError(f"{archive} does not unpack into one directory")
    return roots[0]


_IGNORED_IN_COPY = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "_build",
    "*.pyc",
)


def source_digest(root: Path) -> str:
    """A digest of what a build of modwrite at *root* installs."""
    digest = hashlib.sha256()
    files = [root / name for name in ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in")]
    files += sorted((root / "src").rglob("*"))
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts or ".egg-info" in str(path):
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class Venv:
    """A cached venv for one project on one interpreter."""

    def __init__(self, project: Project, python: Interpreter, workdir: Path) -> None:
        self.project = project
        self.python = python
        key_data = json.dumps(
            [project.dist, project.version, project.pins, str(python.path), python.version]
        )
        key = hashlib.sha256(key_data.encode()).hexdigest()[:10]
        self.key = key
        self.dir = workdir / "venvs" / f"{project.name}-{project.version}-py{python.version}-{key}"
        self.stamp = self.dir / "modwrite-realworld.json"
        self.log = workdir / "logs" / f"setup-{self.dir.name}.log"
        self.bin = self.dir / "bin"
        self.exe = self.bin / "python"

    def read_stamp(self) -> dict[str, str]:
        try:
            data = json.loads(self.stamp.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("key") == self.key else {}

    def write_stamp(self, **values: str) -> None:
        data = self.read_stamp() or {"key": self.key}
        data.update(values)
        self.stamp.write_text(json.dumps(data, indent=1))

    def ready(self) -> bool:
        return bool(self.read_stamp().get("project")) and self.exe.exists()

    def create(self) -> None:
        """A new, empty venv (its pip fetches the sdist)."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text("")
        check_call_logged(
            [str(self.python.path), "-m", "venv", str(self.dir)],
            self.log,
            "creating the venv",
            base_env(),
        )

    def install_project(self, sdist: Path, workdir: Path) -> None:
        env = base_env()
        with tempfile.TemporaryDirectory(prefix="build-", dir=workdir) as tmp:
            tree = extract(sdist, Path(tmp))
            check_call_logged(
                [
                    str(self.exe),
                    "-m",
                    "pip",
                    "install",
                    "--no-input",
                    str(tree),
                    *self.project.pins,
                ],
                self.log,
                f"installing {self.project.dist}=={self.project.version} and its pinned test "
                "dependencies",
                env,
            )
        check_call_logged(
            [str(self.exe), "-m", "pip", "freeze", "--all"], self.log, "pip freeze", env
        )
        self.write_stamp(project=f"{self.project.dist}=={self.project.version}")

    def site_packages(self) -> Path:
        out = subprocess.run(
            [str(self.exe), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
            env=base_env(),
        ).stdout.strip()
        return Path(out)

    def install_modwrite(self, source: Path, digest: str, workdir: Path) -> bool:
        """Install a snapshot of *source* unless this very digest is installed.
        A copy is built, so that the checkout gets no build/ or egg-info."""
        if self.read_stamp().get("modwrite") == digest:
            return False
        self.set_pth(False)
        with tempfile.TemporaryDirectory(prefix="modwrite-src-", dir=workdir) as tmp:
            copy = Path(tmp) / "modwrite"
            shutil.copytree(source, copy, ignore=_IGNORED_IN_COPY)
            check_call_logged(
                [str(self.exe), "-m", "pip", "install", "--no-input", str(copy)],
                self.log,
                f"installing modwrite from {source}",
                base_env(),
            )
        self.write_stamp(modwrite=digest)
        return True

    def set_pth(self, on: bool) -> None:
        pth = self.site_packages() / PTH_NAME
        if on:
            pth.write_text(PTH_LINE)
        else:
            pth.unlink(missing_ok=True)

    def env(self, home: Path) -> dict[str, str]:
        env = base_env()
        env["PATH"] = str(self.bin) + os.pathsep + env.get("PATH", os.defpath)
        env["VIRTUAL_ENV"] = str(self.dir)
        env["HOME"] = str(home)
        return env

    def verify(self, mode: str, env: dict[str, str], cwd: Path) -> None:
        """Check, in a process started as the suite's are, that the machinery
        is installed at start-up in *mode* "installed" and absent in "stock",
        that bytecode is written, and that modwrite is the venv's snapshot."""
        probe = (
            "import json, sys\n"
            "at_startup = 'modwrite' in sys.modules\n"
            "import modwrite\n"
            "print(json.dumps({'at_startup': at_startup, 'installed': modwrite.installed(),"
            " 'file': modwrite.__file__, 'dont_write_bytecode': sys.dont_write_bytecode}))\n"
        )
        proc = subprocess.run(
            [str(self.exe), "-c", probe], capture_output=True, text=True, env=env, cwd=cwd
        )
        if proc.returncode != 0:
            raise SetupError(
                f"{mode}: the venv's python cannot import modwrite:\n{proc.stderr.strip()}"
            )
        state = json.loads(proc.stdout.strip().splitlines()[-1])
        want = mode == "installed"
        if state["installed"] is not want or state["at_startup"] is not want:
            raise SetupError(
                f"{mode}: expected the machinery {'on' if want else 'off'} at start-up, "
                f"got {state}" + (f"; stderr: {proc.stderr.strip()[-800:]}" if proc.stderr else "")
            )
        if state["dont_write_bytecode"]:
            raise SetupError(f"{mode}: bytecode writing is off in the suite's environment")
        if not Path(state["file"]).resolve().is_relative_to(self.dir.resolve()):
            raise SetupError(f"{mode}: modwrite is imported from {state['file']}, not the venv")


# -- junit results ---------------------------------------------------------------

RANK = {"passed": 0, "xfailed": 1, "skipped": 1, "failed": 2, "error": 2, "missing": 3}


@dataclasses.dataclass
class Outcome:
    outcome: str  # passed, skipped, xfailed, failed, error
    reason: str
    file: str  # the file to rerun ('' when unknown)
    collection: bool = False  # a collection error of a module, not a test


@dataclasses.dataclass
class RunResult:
    mode: str
    exit_code: int | None
    seconds: float
    log: Path
    junit: Path
    outcomes: dict[str, Outcome] = dataclasses.field(default_factory=dict)
    broken: str = ""  # why the run produced no usable result

    def count(self, *kinds: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.outcome in kinds and not o.collection)

    @property
    def collected(self) -> int:
        return sum(1 for o in self.outcomes.values() if not o.collection)

    @property
    def collection_errors(self) -> int:
        return sum(1 for o in self.outcomes.values() if o.collection)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(element: ET.Element) -> str:
    message = (element.get("message") or "").strip()
    body = element.text or ""
    e_lines = [ln[1:].strip() for ln in body.splitlines() if ln.startswith("E ")]
    errorish = [ln for ln in e_lines if re.match(r"[\w.]+(Error|Exception|Exit)\b", ln)]
    generic = not message or message == "collection failure" or message.startswith("failed on")
    if generic and errorish:
        return _short(errorish[-1])
    if generic and e_lines:
        return _short(e_lines[-1])
    if not message and body.strip():
        return _short(body.strip().splitlines()[-1])
    return _short(message.splitlines()[0] if message else element.tag)


def test_key(classname: str, name: str, file: str) -> tuple[str, str]:
    """(test id, file to rerun) from junit's xunit1 attributes: the pytest
    node id when it can be rebuilt, else ``classname::name``."""
    if file:
        module = re.sub(r"\.py$", "", file).replace("/", ".")
        if not classname and name == module:  # a module (collection error)
            return file, file
        if classname == module:
            return f"{file}::{name}", file
        if classname.startswith(module + "."):
            rest = classname[len(module) + 1 :].replace(".", "::")
            return f"{file}::{rest}::{name}", file
    return f"{classname}::{name}", ""


def parse_junit(path: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        key, file = test_key(case.get("classname", ""), case.get("name", ""), case.get("file", ""))
        outcome, reason, collection = "passed", "", False
        for child in case:
            if child.tag == "failure":
                kind = "failed"
            elif child.tag == "error":
                kind = "error"
                collection = collection or child.get("message") == "collection failure"
            elif child.tag == "skipped":
                kind = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
            else:
                continue
            if RANK[kind] > RANK[outcome]:
                outcome, reason = kind, _reason(child)
        previous = outcomes.get(key)
        if previous is None or RANK[outcome] > RANK[previous.outcome]:
            outcomes[key] = Outcome(outcome, reason, file, collection)
    return outcomes


# -- running a suite -------------------------------------------------------------


def clean_tree_caches(tree: Path) -> None:
    for cache in list(tree.rglob("__pycache__")) + list(tree.rglob(".pytest_cache")):
        shutil.rmtree(cache, ignore_errors=True)


def run_suite(
    venv: Venv,
    sdist: Path,
    mode: str,
    args: Sequence[str],
    run_dir: Path,
    timeout: float,
) -> RunResult:
    """One run of the suite in *mode* from a fresh copy of the sdist."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tree = extract(sdist, run_dir / "tree")
    clean_tree_caches(tree)
    home = run_dir / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    junit = run_dir / "junit.xml"
    junit.unlink(missing_ok=True)
    log = run_dir / "pytest.log"
    log.unlink(missing_ok=True)
    venv.set_pth(mode == "installed")
    try:
        env = venv.env(home)
        try:
            venv.verify(mode, env, tree)
        except SetupError as exc:
            if mode == "stock":
                raise
            # The stock start-up was fine: a start-up that breaks only with
            # the .pth line is modwrite's failure, not the setup's.
            log.write_text(str(exc) + "\n")
            result = RunResult(mode, None, 0.0, log, junit)
            result.broken = f"start-up check failed: {exc}"
            return result
        cmd = [
            str(venv.exe),
            "-m",
            "pytest",
            "--color=no",
            "-rfE",
            # One module failing to import installed must not hide the rest.
            "--continue-on-collection-errors",
            "-o",
            "junit_family=xunit1",
            f"--junitxml={junit}",
            *args,
        ]
        rc, seconds = run_logged(cmd, tree, env, log, timeout)
    finally:
        venv.set_pth(False)
    result = RunResult(mode, rc, seconds, log, junit)
    if rc is None:
        result.broken = f"timed out after {fmt_s(timeout)}"
    elif not junit.exists():
        result.broken = f"pytest exited {rc} without writing {junit.name}"
    elif rc not in (0, 1, 2, 5):
        result.broken = f"pytest exited {rc} (internal or usage error)"
    if junit.exists():
        try:
            result.outcomes = parse_junit(junit)
        except ET.ParseError as exc:
            result.broken = result.broken or f"unreadable {junit.name}: {exc}"
    return result


# -- comparison ------------------------------------------------------------------


@dataclasses.dataclass
class Regression:
    test: str
    stock: str
    installed: str
    reason: str
    file: str
    #: "confirmed" (worse again in a rerun of its file in both modes), "not
    #: reproduced" (flaky: not counted), "systematic" (too many to be flakes:
    #: not rerun), "not rerun" (no file to rerun).
    confirmed: str = "not rerun"


def compare(stock: RunResult, installed: RunResult) -> list[Regression]:
    """Tests whose outcome is worse installed than stock, and tests (or
    modules) that stock collects and installed does not."""
    module_errors = {o.file: o.reason for o in installed.outcomes.values() if o.collection}
    found: list[Regression] = []
    for key in sorted(set(stock.outcomes) | set(installed.outcomes)):
        s = stock.outcomes.get(key)
        i = installed.outcomes.get(key)
        if i is None and s is not None:
            if s.collection:
                continue
            reason = module_errors.get(s.file, "")
            reason = f"not collected: {reason}" if reason else "not collected installed"
            found.append(Regression(key, s.outcome, "missing", reason, s.file))
        elif i is not None and s is None:
            if i.outcome in ("failed", "error"):
                what = "collection error" if i.collection else i.outcome
                found.append(Regression(key, "absent", what, i.reason, i.file))
        elif i is not None and s is not None and RANK[i.outcome] > RANK[s.outcome]:
            found.append(Regression(key, s.outcome, i.outcome, i.reason, i.file))
    return found


def reason_changes(stock: RunResult, installed: RunResult) -> list[tuple[str, str, str, str]]:
    """Tests skipped, xfailed, failing or erroring in both modes, but for a
    different reason installed (a skip for a module not found, say): not
    counted, shown as worth a look.  Numbers are ignored (temporary paths)."""
    changes = []
    for key in sorted(set(stock.outcomes) & set(installed.outcomes)):
        s, i = stock.outcomes[key], installed.outcomes[key]
        if s.outcome != i.outcome or s.outcome == "passed":
            continue
        if re.sub(r"\d+", "N", s.reason) != re.sub(r"\d+", "N", i.reason):
            changes.append((key, s.outcome, s.reason, i.reason))
    return changes


def print_table(results: Sequence[RunResult]) -> None:
    header = (
        f"  {'mode':<10} {'collected':>9} {'passed':>7} {'failed':>7} {'errors':>7} "
        f"{'skipped':>8} {'coll.err':>8} {'exit':>5} {'time':>8}"
    )
    say(header)
    say("  " + "-" * (len(header) - 2))
    for r in results:
        say(
            f"  {r.mode:<10} {r.collected:>9} {r.count('passed'):>7} {r.count('failed'):>7} "
            f"{r.count('error'):>7} {r.count('skipped', 'xfailed'):>8} "
            f"{r.collection_errors:>8} {r.exit_code if r.exit_code is not None else '-':>5} "
            f"{fmt_s(r.seconds):>8}"
        )


# -- one project -----------------------------------------------------------------


@dataclasses.dataclass
class ProjectReport:
    name: str
    status: str  # "ok", "regressed", "skipped", "setup error"
    detail: str = ""
    new_failures: int = 0
    timings: dict[str, float] = dataclasses.field(default_factory=dict)


def run_project(
    project: Project,
    python: Interpreter,
    opts: argparse.Namespace,
    workdir: Path,
    digest: str,
) -> ProjectReport:
    title = f"{project.name} {project.version} on CPython {python.version} (subset {opts.subset})"
    say("")
    say("=" * 78)
    say(title)
    say("=" * 78)
    if python.minor < project.min_python:
        need = ".".join(map(str, project.min_python))
        msg = f"{project.dist} {project.version} needs CPython >= {need}"
        say(f"  SKIPPED: {msg}, chosen interpreter is {python.version}")
        return ProjectReport(project.name, "skipped", msg)
    if project.note:
        say(f"  note: {project.note}")
    report = ProjectReport(project.name, "ok")
    t0 = time.monotonic()
    venv = Venv(project, python, workdir)
    if opts.fresh or not venv.ready():
        say(f"  setup: venv {venv.dir} (log {venv.log})")
        # The sdist is fetched with the new venv's pip: make the venv first.
        venv.create()
        sdist = fetch_sdist(project, workdir, venv.exe, opts.fresh)
        venv.install_project(sdist, workdir)
    else:
        sdist = fetch_sdist(project, workdir, venv.exe, False)
        say(f"  setup: cached venv {venv.dir}")
    if venv.install_modwrite(opts.modwrite, digest, workdir):
        say(f"  setup: installed modwrite {digest} from {opts.modwrite}")
    report.timings["setup"] = time.monotonic() - t0
    say(f"  setup took {fmt_s(report.timings['setup'])}")

    paths = opts.tests if opts.tests else project.paths[opts.subset]
    args = [*project.options, *paths]
    timeout = float(opts.timeout or project.timeout[opts.subset])
    run_root = workdir / "runs" / f"{project.name}-py{python.version}"
    results: list[RunResult] = []
    for mode in MODES:
        say(f"  running {mode} ... (timeout {fmt_s(timeout)})")
        result = run_suite(venv, sdist, mode, args, run_root / mode, timeout)
        report.timings[mode] = result.seconds
        say(
            f"    {mode}: {fmt_s(result.seconds)}, pytest exit {result.exit_code}, "
            f"log {result.log}"
        )
        results.append(result)
    stock, installed = results
    say("")
    print_table(results)
    say("")
    if stock.broken:
        report.status, report.detail = "setup error", f"stock run unusable: {stock.broken}"
        say(f"  SETUP ERROR: the stock run is unusable ({stock.broken}):\n{tail(stock.log)}")
        return report
    if installed.broken:
        report.status = "regressed"
        report.new_failures = max(1, stock.collected)
        report.detail = f"installed run unusable: {installed.broken}"
        say(
            f"  NEW FAILURE: the run with modwrite installed is unusable ({installed.broken}) "
            f"while the stock run is not:\n{tail(installed.log)}"
        )
        return report

    regressions = compare(stock, installed)
    pre_existing = stock.count("failed", "error")
    if pre_existing:
        say(f"  {pre_existing} test(s) already fail or error stock: pre-existing, not counted.")
    if installed.collected < stock.collected:
        say(
            f"  COLLECTION DIFFERS: {stock.collected} tests collected stock, "
            f"{installed.collected} installed."
        )
    elif installed.collected != stock.collected:
        say(f"  note: {stock.collected} tests collected stock, {installed.collected} installed.")

    if regressions:
        confirm(regressions, venv, sdist, project, run_root, timeout, report)
    real = [r for r in regressions if r.confirmed != "not reproduced"]
    flaky = [r for r in regressions if r.confirmed == "not reproduced"]
    write_diff(run_root / "differences.txt", real, flaky)
    if real:
        report.status = "regressed"
        report.new_failures = len(real)
        report.detail = describe(real)
        say(f"  NEW FAILURES with modwrite installed: {report.detail}")
        print_regressions(real)
    else:
        say("  no new failures with modwrite installed.")
    if flaky:
        say(
            f"  flaky, not counted ({len(flaky)}): worse in the first installed run, but not "
            "in a rerun of their files in both modes:"
        )
        for r in flaky[:20]:
            say(f"    {r.test}: {r.stock} -> {r.installed} ({r.reason})")
    changes = reason_changes(stock, installed)
    if changes:
        say(f"  same outcome but another reason installed ({len(changes)}; not counted):")
        for key, outcome, before, after in changes[:10]:
            say(f"    {key}: {outcome}\n        stock:     {before}\n        installed: {after}")
        if len(changes) > 10:
            say(f"    ... and {len(changes) - 10} more")
    say(f"  results: {run_root}")
    if not opts.keep:
        for mode in MODES:
            for sub in ("tree", "home"):
                shutil.rmtree(run_root / mode / sub, ignore_errors=True)
        shutil.rmtree(run_root / "rerun", ignore_errors=True)
    return report


def describe(regressions: Sequence[Regression]) -> str:
    """'6 modules fail to collect, 114 tests not collected, 2 tests worse'."""
    modules = sum(1 for r in regressions if r.installed == "collection error")
    missing = sum(1 for r in regressions if r.installed == "missing")
    worse = len(regressions) - modules - missing
    parts = []
    if modules:
        parts.append(f"{modules} module(s) fail to collect")
    if missing:
        parts.append(f"{missing} test(s) not collected")
    if worse:
        parts.append(f"{worse} test(s) worse")
    return ", ".join(parts)


def print_regressions(regressions: Sequence[Regression]) -> None:
    # Collection errors of whole modules first: they explain the missing tests.
    modules = [r for r in regressions if r.installed == "collection error"]
    tests = [r for r in regressions if r.installed != "collection error"]
    for r in modules:
        say(f"    {r.test}: collection error installed [{r.confirmed}]")
        say(f"        {r.reason}")
    missing = [r for r in tests if r.installed == "missing"]
    others = [r for r in tests if r.installed != "missing"]
    for r in others[:60]:
        say(f"    {r.test}: {r.stock} -> {r.installed} [{r.confirmed}]")
        say(f"        {r.reason}")
    if len(others) > 60:
        say(f"    ... and {len(others) - 60} more")
    if missing:
        by_file: dict[str, list[Regression]] = {}
        for r in missing:
            by_file.setdefault(r.file or "?", []).append(r)
        failed_modules = {r.file for r in modules}
        say(f"    {len(missing)} test(s) collected stock are not collected installed:")
        for file, items in sorted(by_file.items()):
            why = "its module fails to collect" if file in failed_modules else items[0].reason
            say(f"      {file}: {len(items)} test(s): {why} [{items[0].confirmed}]")


def write_diff(path: Path, real: Sequence[Regression], flaky: Sequence[Regression]) -> None:
    lines = [f"{r.test}\t{r.stock} -> {r.installed}\t{r.confirmed}\t{r.reason}" for r in real]
    lines += [f"{r.test}\t{r.stock} -> {r.installed}\tflaky\t{r.reason}" for r in flaky]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


def confirm(
    regressions: Sequence[Regression],
    venv: Venv,
    sdist: Path,
    project: Project,
    run_root: Path,
    timeout: float,
    report: ProjectReport,
) -> None:
    """Rerun the files holding the regressions, in both modes, to tell a
    parity bug from a flaky test; marks each regression."""
    if len(regressions) > RERUN_LIMIT:
        say(f"  {len(regressions)} regressions: systematic, not rerun.")
        for r in regressions:
            r.confirmed = "systematic"
        return
    files = sorted({r.file for r in regressions if r.file})
    if not files:
        return
    say(
        f"  rerunning {len(files)} file(s) with regressions in both modes to rule out "
        f"flakiness: {' '.join(files)}"
    )
    reruns: dict[str, RunResult] = {}
    start = time.monotonic()
    for mode in MODES:
        result = run_suite(
            venv, sdist, mode, [*project.options, *files], run_root / "rerun" / mode, timeout
        )
        reruns[mode] = result
    report.timings["rerun"] = time.monotonic() - start
    say(f"    rerun took {fmt_s(report.timings['rerun'])}")
    stock, installed = reruns["stock"], reruns["installed"]
    if stock.broken:
        say(f"    the stock rerun is unusable ({stock.broken}); regressions kept as found")
        return
    for r in regressions:
        if not r.file:
            continue  # no file to rerun: kept as found ("not rerun")
        if installed.broken:
            r.confirmed = "confirmed"
            continue
        s = stock.outcomes.get(r.test)
        i = installed.outcomes.get(r.test)
        absent = r.stock == "absent"  # only the installed run had it (a new collection error)
        if s is None and not absent:
            continue  # the stock rerun lacks it: cannot judge, kept as found
        s_rank = RANK[s.outcome] if s else -1
        i_rank = RANK[i.outcome] if i else (-1 if absent else RANK["missing"])
        r.confirmed = "confirmed" if i_rank > s_rank else "not reproduced"


# -- main ------------------------------------------------------------------------


def default_workdir() -> Path:
    env = os.environ.get("MODWRITE_REALWORLD_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "modwrite-realworld"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    tests: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tests = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="realworld.py",
        description=(
            "Run pinned real projects' test suites twice, stock and with modwrite's machinery "
            "installed at start-up of every Python process (a .pth file), and fail when a test "
            "passes stock but not installed."
        ),
        epilog=(
            "Exit status: 0 no new failure; 1 a test fails, errors, is skipped or is not "
            "collected only with the machinery installed; 2 setup problem.  Arguments after "
            "'--' replace the subset's test paths (one project only)."
        ),
    )
    parser.add_argument(
        "projects",
        nargs="*",
        metavar="PROJECT",
        help=f"projects to run ({', '.join(PROJECTS)}); default: hy pytest for --subset ci, "
        "all for --subset full",
    )
    parser.add_argument(
        "--python",
        metavar="PATH_OR_VERSION",
        help="interpreter for the venvs: a path, a command or a version such as 3.11 "
        "(pyenv's, else pythonX.Y on PATH); default: the one running this script",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=default_workdir(),
        help="cache of sdists and venvs, and the runs' results "
        "(default $MODWRITE_REALWORLD_DIR or ~/.cache/modwrite-realworld)",
    )
    parser.add_argument(
        "--subset",
        choices=("ci", "full"),
        default="ci",
        help="ci: import-heavy parts, a few minutes (default); full: whole suites",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the unpacked trees and homes of the runs"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="download the sdists and rebuild the venvs"
    )
    parser.add_argument(
        "--timeout", type=int, metavar="S", help="timeout of one suite run in seconds"
    )
    parser.add_argument(
        "--modwrite",
        type=Path,
        default=REPO_ROOT,
        metavar="DIR",
        help=f"modwrite checkout to install (default {REPO_ROOT})",
    )
    parser.add_argument("--list", action="store_true", help="list the projects and their pins")
    opts = parser.parse_args(argv)
    opts.tests = tests
    unknown = [p for p in opts.projects if p not in PROJECTS]
    if unknown:
        parser.error(f"unknown project(s) {', '.join(unknown)}; known: {', '.join(PROJECTS)}")
    if not opts.projects:
        opts.projects = list(DEFAULT_PROJECTS[opts.subset])
    if tests and len(opts.projects) != 1:
        parser.error("test paths after '--' need exactly one PROJECT")
    return opts


def list_projects() -> None:
    for p in PROJECTS.values():
        say(f"{p.name}: {p.dist}=={p.version} (CPython >= {'.'.join(map(str, p.min_python))})")
        for subset in ("ci", "full"):
            say(f"  {subset}: {' '.join(p.paths[subset]) or '(the project testpaths)'}")
        for pin in p.pins:
            say(f"  pin: {pin}")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.list:
        list_projects()
        return EXIT_OK
    workdir: Path = opts.workdir.expanduser().resolve()
    opts.modwrite = opts.modwrite.resolve()
    try:
        if workdir == opts.modwrite or opts.modwrite in workdir.parents:
            raise SetupError(f"--workdir {workdir} is inside the checkout {opts.modwrite}")
        if not (opts.modwrite / "pyproject.toml").is_file():
            raise SetupError(f"{opts.modwrite} is not a modwrite checkout (no pyproject.toml)")
        python = resolve_python(opts.python)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "logs").mkdir(exist_ok=True)
        lock = (workdir / ".lock").open("w")  # held until exit
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SetupError(f"another realworld run is using {workdir}") from None
        digest = source_digest(opts.modwrite)
    except SetupError as exc:
        say(f"realworld: setup error: {exc}")
        return EXIT_SETUP
    say(
        f"realworld: CPython {python.version} ({python.path}); modwrite {opts.modwrite} "
        f"(source {digest}); workdir {workdir}"
    )
    say(
        f"realworld: projects {' '.join(opts.projects)}, subset {opts.subset}; installed mode = "
        f"{PTH_NAME} with {PTH_LINE.strip()!r}; PYTHONDONTWRITEBYTECODE unset in both modes"
    )
    reports: list[ProjectReport] = []
    start = time.monotonic()
    for name in opts.projects:
        project = PROJECTS[name]
        try:
            reports.append(run_project(project, python, opts, workdir, digest))
        except SetupError as exc:
            say(f"  SETUP ERROR: {exc}")
            reports.append(ProjectReport(name, "setup error", str(exc).splitlines()[0]))
        except subprocess.CalledProcessError as exc:
            say(f"  SETUP ERROR: {exc}")
            reports.append(ProjectReport(name, "setup error", str(exc)))
    say("")
    say("=" * 78)
    total = fmt_s(time.monotonic() - start)
    say(f"summary (CPython {python.version}, subset {opts.subset}, {total})")
    for r in reports:
        times = ", ".join(f"{k} {fmt_s(v)}" for k, v in r.timings.items())
        say(f"  {r.name:<8} {r.status.upper():<12} {r.detail}" + (f"  [{times}]" if times else ""))
    if any(r.status == "regressed" for r in reports):
        return EXIT_REGRESSION
    if any(r.status == "setup error" for r in reports):
        return EXIT_SETUP
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
