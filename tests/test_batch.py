"""batch(): writes land at once; the visibility wait is paid once, at the end."""

from __future__ import annotations

import importlib
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _settle


def test_writes_in_a_batch_are_visible_at_once_and_settled_once(
    root: Path, unique_name: str
) -> None:
    (root / "sub").mkdir()
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        with modwrite.batch():
            for i in range(20):
                modwrite.write_module(f"{unique_name}_{i}", f"I = {i}\n", root=root)
                assert i == importlib.import_module(f"{unique_name}_{i}").I
                modwrite.write_module(f"sub.m{i}", "", root=root)
            assert settle.call_count == 0
    assert settle.call_count == 1
    assert set(settle.call_args.args[0]) == {str(root), str(root / "sub")}


def test_a_batch_settles_also_when_its_block_raises(root: Path) -> None:
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        with pytest.raises(RuntimeError), modwrite.batch():
            modwrite.write_module("m", "", root=root)
            raise RuntimeError("boom")
    assert settle.call_count == 1
    assert (root / "m.py").exists()


def test_nested_batches_join_the_outer_one(root: Path) -> None:
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        with modwrite.batch():
            with modwrite.batch():
                modwrite.write_module("a", "", root=root)
            assert settle.call_count == 0
            modwrite.write_module("b", "", root=root)
    assert settle.call_count == 1


def test_process_visibility_in_a_batch_is_not_settled(root: Path) -> None:
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        with modwrite.batch():
            modwrite.write_module("a", "", root=root, visibility="process")
    assert settle.call_count == 0


def test_batch_timeout_is_checked() -> None:
    with pytest.raises(modwrite.InvalidArgument), modwrite.batch(visibility_timeout=-1):
        pass  # pragma: no cover


def test_a_write_after_the_batch_in_its_copied_context_settles_itself(root: Path) -> None:
    """[task outlives the batch] a context copied inside the block (asyncio
    tasks do this) must not hand writes to a batch that already settled."""
    import contextvars

    with modwrite.batch():
        inherited = contextvars.copy_context()
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        inherited.run(modwrite.write_module, "late", "", root=root)
    assert settle.call_count == 1
