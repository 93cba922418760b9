"""The directory-mtime settle (G2), on the machine's own filesystem."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _clock, _settle

from .conftest import leftovers


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


@pytest.mark.parametrize("how", ["write_module", "batch"])
def test_an_interrupt_in_the_visibility_wait_leaves_the_file_and_no_probe(
    tmp_path: Path, how: str
) -> None:
    """Ctrl-C while the visibility wait sleeps: the file has landed, the
    ``KeyboardInterrupt`` propagates, and no probe is left, neither under
    its first name nor under the one ``_entry_moved`` renamed it to.

    The wait is forced: the touch and the rename never move the mtime, and
    the probe's clock reads a second ahead, so the directory counts as due
    (``_entry_moved`` renames the probe) before every sleep."""
    (tmp_path / "m.py").write_text("V = 'old'\n")
    real_read_clock = _settle._read_clock
    real_entry_moved = _settle._entry_moved
    real_remove_all = _settle._Probes.remove_all
    on_disk: list[str] = []  # the probes there when the wait cleaned up

    def read_clock(directory: str, probes: _settle._Probes, devices: dict[str, int]) -> int:
        return real_read_clock(directory, probes, devices) + 10**9

    def entry_moved(directory: str, landed: float, probes: _settle._Probes) -> bool:
        real_entry_moved(directory, landed, probes)
        return False

    def remove_all(self: _settle._Probes) -> None:
        on_disk.extend(p for p in self.made if os.path.lexists(p))
        real_remove_all(self)

    with (
        mock.patch.object(_settle, "_touch_moved", return_value=False),
        mock.patch.object(_settle, "_read_clock", side_effect=read_clock),
        mock.patch.object(_settle, "_entry_moved", side_effect=entry_moved) as moved,
        mock.patch.object(_settle._Probes, "remove_all", remove_all),
        mock.patch.object(_settle.time, "sleep", side_effect=KeyboardInterrupt) as sleep,
    ):
        with pytest.raises(KeyboardInterrupt):
            if how == "batch":
                with modwrite.batch():
                    modwrite.write_module("m", "V = 'new'\n", root=tmp_path)
            else:
                modwrite.write_module("m", "V = 'new'\n", root=tmp_path)
    assert sleep.call_count == 1 and moved.call_count == 1
    assert len(on_disk) == 1 and ".probe." in on_disk[0]  # the renamed probe
    assert (tmp_path / "m.py").read_text() == "V = 'new'\n"
    assert leftovers(tmp_path) == []
