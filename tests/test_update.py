"""[issue 8] The in-place update behind ``%autoreimport update``
(:mod:`modwrite._update`): after :func:`modwrite.reload`, old functions and
classes take the new code, the module holds the old objects again, and what
cannot be updated safely is left as the reload left it and reported.

No test here may walk the heap: ``gc.get_referrers`` raises in all of them.
"""

from __future__ import annotations

import gc
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import modwrite
from modwrite._update import UpdateReport, update_in_place


@pytest.fixture(autouse=True)
def no_heap_scan(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*objects: object) -> list[object]:
        raise AssertionError("gc.get_referrers was called")

    monkeypatch.setattr(gc, "get_referrers", refuse)
    yield


class Edits:
    """Modules under *root*, written, imported, edited and reloaded with
    their namespaces snapshotted, then updated in place."""

    def __init__(self, root: Path, unique_name: str) -> None:
        self.root = root
        self.prefix = unique_name

    def load(self, suffix: str, source: str) -> ModuleType:
        name = f"{self.prefix}_{suffix}"
        modwrite.write_module(name, textwrap.dedent(source), root=self.root, visibility="process")
        return importlib.import_module(name)

    def edit(self, *changes: tuple[ModuleType, str]) -> UpdateReport:
        """Write each module's new source, reload them in this order, then
        update them in place together."""
        snapshots = {module: dict(vars(module)) for module, _ in changes}
        for module, source in changes:
            modwrite.write_module(
                module.__name__, textwrap.dedent(source), root=self.root, visibility="process"
            )
        for module, _ in changes:
            modwrite.reload(module)
        return update_in_place(snapshots)


@pytest.fixture
def edits(root: Path, unique_name: str) -> Edits:
    return Edits(root, unique_name)


FUNCTIONS = """\
    def f(x=1, *, y=2):
        "one"
        return ("f1", x, y)
    f.tag = "one"
"""


def test_a_function_imported_by_name_runs_the_new_code(edits: Edits) -> None:
    m = edits.load("f", FUNCTIONS)
    f = m.f

    report = edits.edit((m, FUNCTIONS.replace("1", "3").replace("2", "4").replace("one", "two")))

    assert m.f is f
    assert f() == ("f3", 3, 4)
    assert (f.__doc__, f.tag) == ("two", "two")
    assert report.updated == [f"{m.__name__}.f"]
    assert report.skipped == []


CLASSES = """\
    class Base:
        def hello(self):
            return "base1"

    class C(Base):
        limit = 1

        def __init__(self):
            self.state = "kept"

        def hello(self):
            return "C1+" + super().hello()

        def gone(self):
            return 1

        @property
        def p(self):
            return "p1"

        @classmethod
        def cm(cls):
            return ("cm1", cls.__name__)

        @staticmethod
        def sm():
            return "sm1"

        class Inner:
            def i(self):
                return "i1"

    SINGLETON = C()
"""

CLASSES_2 = (
    CLASSES.replace("1", "2")
    .replace(
        "        def gone(self):\n            return 2\n",
        "        def added(self):\n            return super().hello()\n",
    )
    .replace("limit = 2", "limit = 2\n        counter = 0")
)


def test_instances_of_old_classes_run_the_new_code(edits: Edits) -> None:
    m = edits.load("cls", CLASSES)
    C, Inner = m.C, m.C.Inner
    c, inner, bound = C(), m.C.Inner(), C().hello
    getter, classmethod_function = vars(C)["p"].fget, vars(C)["cm"].__func__

    report = edits.edit((m, CLASSES_2))

    assert (m.C, m.C.Inner, m.Base) == (C, Inner, C.__mro__[1])
    assert isinstance(c, m.C) and c.state == "kept"
    assert c.hello() == bound() == "C2+base2"  # zero-argument super() in an updated method
    assert c.added() == "base2"  # ... and in an added one
    assert not hasattr(c, "gone")  # a method the new class body no longer defines
    assert (c.p, c.cm(), C.sm(), C.limit, C.counter) == ("p2", ("cm2", "C"), "sm2", 2, 0)
    assert inner.i() == "i2"
    assert vars(C)["p"].fget is getter and vars(C)["cm"].__func__ is classmethod_function
    assert type(m.SINGLETON) is C and m.SINGLETON.hello() == "C2+base2"
    assert report.skipped == []
    assert set(report.updated) == {f"{m.__name__}.{n}" for n in ("Base", "C", "C.Inner")}


def test_a_subclass_in_another_module_inherits_the_new_code(edits: Edits) -> None:
    m = edits.load("base", CLASSES)
    other = edits.load("sub", f"import {m.__name__} as m\nclass D(m.C):\n    pass\n")

    edits.edit((m, CLASSES_2))

    assert other.D().hello() == "C2+base2"
    assert issubclass(other.D, m.C)


def test_modules_updated_together_keep_names_bound_across_them(edits: Edits) -> None:
    """``from b import f`` in a module reloaded after ``b`` binds the old ``f``
    again, not the new object the reload made."""
    b = edits.load("b", "def f():\n    return 1\n")
    a = edits.load("a", f"from {b.__name__} import f\n")

    edits.edit((b, "def f():\n    return 2\n"), (a, f"from {b.__name__} import f\nX = 1\n"))

    assert a.f is b.f and a.f() == 2


CLOSURES = """\
    import functools

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args):
            return ("wrapped", function(*args))
        return wrapper

    @decorate
    def g():
        return "g1"

    def make():
        a = 1
        def closure():
            return a
        return closure

    h = make()
"""


def test_closures_take_new_cells_or_are_skipped_when_their_shape_changed(edits: Edits) -> None:
    m = edits.load("closure", CLOSURES)
    g, h = m.g, m.h
    new = CLOSURES.replace("g1", "g2").replace("a = 1", "b = 2").replace("return a", "return b")

    report = edits.edit((m, new))

    assert m.g is g and g() == ("wrapped", "g2")  # same free variables: new code and cells
    assert report.skipped == [
        (f"{m.__name__}.make.<locals>.closure", "a closure whose free variables changed")
    ]
    assert h() == 1 and m.h() == 2 and m.h is not h  # left as the reload left it


@pytest.mark.parametrize(
    ("source", "edit", "reason"),
    [
        pytest.param(
            "import enum\nclass K(enum.Enum):\n    A = 1\n    def f(self):\n        return 1\n",
            "import enum\nclass K(enum.Enum):\n    A = 1\n    def f(self):\n        return 2\n",
            "an enum",
            id="enum",
        ),
        pytest.param(
            "import dataclasses\n@dataclasses.dataclass\nclass K:\n    a: int = 1\n",
            "import dataclasses\n@dataclasses.dataclass\nclass K:\n    a: int = 2\n",
            "a dataclass",
            id="dataclass",
        ),
        pytest.param(
            "import typing\nclass K(typing.NamedTuple):\n    a: int = 1\n",
            "import typing\nclass K(typing.NamedTuple):\n    a: int = 1\n    b: int = 2\n",
            "a named tuple",
            id="namedtuple",
        ),
        pytest.param(
            "class K:\n    __slots__ = ('a',)\n",
            "class K:\n    __slots__ = ('a', 'b')\n",
            "its __slots__ or instance layout changed",
            id="slots",
        ),
        pytest.param(
            "class A:\n    pass\nclass K:\n    pass\n",
            "class A:\n    pass\nclass K(A):\n    pass\n",
            "its base classes changed",
            id="bases",
        ),
        pytest.param(
            "class Meta(type):\n    pass\nclass K(metaclass=Meta):\n    pass\n",
            "class Meta(type):\n    pass\nclass K(metaclass=Meta):\n    X = 1\n",
            "its metaclass is Meta",
            id="metaclass",
        ),
    ],
)
def test_classes_that_cannot_be_updated_safely_are_left_alone(
    edits: Edits, source: str, edit: str, reason: str
) -> None:
    m = edits.load("alone", source)
    K = m.K
    before = dict(vars(K))

    report = edits.edit((m, edit))

    assert m.K is not K  # the module holds the new class, as after a plain reload
    assert dict(vars(K)) == before  # the old one untouched
    assert (f"{m.__name__}.K", reason) in report.skipped


def test_slots_that_did_not_change_keep_their_descriptors(edits: Edits) -> None:
    source = "class K:\n    __slots__ = ('a',)\n    def f(self):\n        return 1\n"
    m = edits.load("slots", source)
    K = m.K
    k = K()
    k.a = "value"

    report = edits.edit((m, source.replace("return 1", "return 2")))

    assert m.K is K and k.f() == 2 and k.a == "value"
    assert report.skipped == []


def test_a_property_that_gains_a_setter_is_replaced(edits: Edits) -> None:
    source = "class K:\n    @property\n    def p(self):\n        return 1\n"
    m = edits.load("prop", source)
    k = m.K()
    edit = source + "    @p.setter\n    def p(self, value):\n        self.v = value\n"

    edits.edit((m, edit))

    k.p = 5
    assert (k.p, k.v) == (1, 5)


def test_other_attributes_that_are_gone_stay(edits: Edits) -> None:
    """Only what the class body defined goes with it: a data attribute
    (perhaps set at run time) stays."""
    m = edits.load("attrs", "class K:\n    data = 1\n    def f(self):\n        return 1\n")
    m.K.runtime = "set later"

    edits.edit((m, "class K:\n    pass\n"))

    assert (m.K.data, m.K.runtime, hasattr(m.K, "f")) == (1, "set later", False)


def test_objects_of_other_modules_are_not_touched(edits: Edits) -> None:
    """A name bound to another module's function is not the reloaded
    module's to update, even when it now binds another object."""
    helper = edits.load("helper", "def f():\n    return 1\n")
    m = edits.load("user", f"from {helper.__name__} import f\n")
    old_f, code = helper.f, helper.f.__code__
    modwrite.reload(helper)  # by hand, not updated: helper.f is a new function

    report = edits.edit((m, f"from {helper.__name__} import f\nX = 1\n"))

    assert (report.updated, report.skipped) == ([], [])
    assert m.f is helper.f is not old_f
    assert old_f.__code__ is code


def test_abc_classes_keep_their_registry_and_take_the_new_code(edits: Edits) -> None:
    source = """\
        import abc

        class A(abc.ABC):
            @abc.abstractmethod
            def f(self):
                ...

        class B(A):
            def f(self):
                return 1

        class Registered:
            pass

        A.register(Registered)
    """
    m = edits.load("abc", source)
    A, b = m.A, m.B()

    edits.edit((m, source.replace("return 1", "return 2")))

    assert m.A is A and b.f() == 2
    assert isinstance(b, A) and isinstance(m.Registered(), A)
    with pytest.raises(TypeError):
        A()  # still abstract


def test_one_class_under_two_names_is_updated_once(edits: Edits) -> None:
    source = "class K:\n    def f(self):\n        return 1\nAlias = K\n"
    m = edits.load("alias", source)
    K, k = m.K, m.K()

    report = edits.edit((m, source.replace("return 1", "return 2")))

    assert m.K is m.Alias is K and k.f() == 2
    assert report.updated == [f"{m.__name__}.K"]


def test_a_failed_reload_changes_nothing(edits: Edits) -> None:
    m = edits.load("failed", FUNCTIONS)
    f = m.f
    snapshots = {m: dict(vars(m))}
    modwrite.write_module(m.__name__, "def f():\n    return 2\n1 / 0\n", root=edits.root)
    with pytest.raises(ZeroDivisionError):
        modwrite.reload(m)

    report = update_in_place(snapshots)

    assert (report.updated, report.skipped) == ([], [])
    assert m.f is f and f() == ("f1", 1, 2)


def test_the_updater_module_imports_no_heap_walker() -> None:
    """It is loaded by the IPython extension, but imports nothing of IPython's."""
    assert "gc" not in vars(sys.modules["modwrite._update"])
