"""The directory-mtime settle (G2), on the machine's own filesystem."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _clock, _settle


def test_settle_moves_the_mtime_past_the_observed_value(tmp_path: Path) -> None:
    observed = _settle.observe(str(tmp_path))
    assert _settle.settle({str(tmp_path): observed}) is True
    assert os.stat(tmp_path).st_mtime > observed
    assert [p.name for p in tmp_path.iterdir()] == []  # no probe left


def test_a_directory_whose_mtime_never_moves_warns_within_budget(tmp_path: Path) -> None:
    """[mtime never moves] exFAT on Windows, WSL drvfs: the budget runs out."""
    frozen = os.stat(tmp_path)
    real_stat = os.stat

    def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if os.fspath(path) == str(tmp_path):  # type: ignore[arg-type]
            return frozen
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(_settle.os, "stat", side_effect=stat):
        with pytest.warns(modwrite.VisibilityWarning, match="did not move"):
            assert _settle.settle({str(tmp_path): frozen.st_mtime}, timeout=0.05) is False
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_directory_mtime_in_the_future_is_not_moved_back(tmp_path: Path) -> None:
    future_ns = (os.stat(tmp_path).st_mtime_ns // 10**9 + 3600) * 10**9
    os.utime(tmp_path, ns=(future_ns, future_ns))
    observed = _settle.observe(str(tmp_path))
    assert _settle.settle({str(tmp_path): observed}) is True
    assert os.stat(tmp_path).st_mtime > observed


def test_write_module_settles_with_system_visibility_only(tmp_path: Path) -> None:
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        modwrite.write_module("a", "", root=tmp_path, visibility="process")
        assert settle.call_count == 0
        modwrite.write_module("b", "", root=tmp_path)
        assert settle.call_count == 1


def test_tick_inference_from_clock_readings() -> None:
    device = -12345
    for reading in (1_700_000_000_000_000_000, 1_700_000_002_000_000_000):
        _clock.learn(device, reading)
    assert _clock.plausible_ticks(device)[-1] == 2_000_000_000
    _clock.learn(device, 1_700_000_003_000_000_000)
    assert _clock.plausible_ticks(device)[-1] == 1_000_000_000
    _clock.learn(device, 1_700_000_003_000_000_123)
    assert _clock.plausible_ticks(device) == [1_000]


def test_the_warning_points_at_the_callers_line(tmp_path: Path) -> None:
    with (
        mock.patch.object(_settle, "_touch_moved", return_value=False),
        mock.patch.object(_settle, "_entry_moved", return_value=False),
    ):
        with pytest.warns(modwrite.VisibilityWarning) as record:
            modwrite.write_module("m", "", root=tmp_path, visibility_timeout=0)
        with pytest.warns(modwrite.VisibilityWarning) as batch_record:
            with modwrite.batch(visibility_timeout=0):
                modwrite.write_module("n", "", root=tmp_path)
    assert record[0].filename == __file__
    assert batch_record[0].filename == __file__


def test_a_directory_removed_during_the_settle_warns_instead_of_raising(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    observed = _settle.observe(str(gone))
    gone.rmdir()
    with pytest.warns(modwrite.VisibilityWarning, match="No such file"):
        assert _settle.settle({str(gone): observed}, timeout=0.01) is False
