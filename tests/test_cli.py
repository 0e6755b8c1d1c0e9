"""The `flywheel` command's edge: one line per error, exit 1 for a failure and 2 for a wrong command line."""
from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import torch
from test_simulate_faults import WALK
from test_simulate_stage import write_params

from tasks.cli import main as flywheel
from tasks.common.signals import load_signals


@pytest.fixture
def walk(tmp_path) -> Path:
    np.save(tmp_path / "walk.npy", WALK)
    return tmp_path / "walk.npy"


def fails(argv: list[str], capsys) -> str:
    """The one line a failing command prints (exit 1, nothing on stdout)."""
    capsys.readouterr()
    assert flywheel(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err.strip()


def test_out_may_name_a_folder(walk, tmp_path, capsys):
    folder = tmp_path / "signals"
    folder.mkdir()
    assert flywheel(["simulate", str(walk), "--out", str(folder), "--params", str(write_params(tmp_path))]) == 0
    assert capsys.readouterr().out.splitlines()[0] == str(folder / "walk.npz")
    assert load_signals(folder / "walk.npz")["frame_time_s"].shape == (39,)
    assert flywheel(["show", str(folder / "walk.npz"), "--out", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == str(folder / "walk.png") and (folder / "walk.png").stat().st_size


def test_out_below_a_file_says_so(walk, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    params = str(write_params(tmp_path))
    for out in ("notes.txt/walk.npz", "notes.txt/deeper/walk.npz"):
        assert fails(["simulate", str(walk), "--out", str(tmp_path / out), "--params", params], capsys) == (
            f"flywheel simulate: {tmp_path / 'notes.txt'}: a part of this path is a file, not a folder")


def test_a_full_disk_names_the_file_and_leaves_nothing_behind(walk, tmp_path, monkeypatch, capsys):
    def no_space(fh, **arrays):
        fh.write(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write reports it: no file name

    monkeypatch.setattr(np, "savez_compressed", no_space)
    out = tmp_path / "out/walk.npz"
    assert fails(["simulate", str(walk), "--out", str(out), "--params", str(write_params(tmp_path))], capsys) == (
        f"flywheel simulate: {out}: no space left on the device (free some disk space, then rerun)")
    assert list(out.parent.iterdir()) == []  # no temporary left


def test_empty_files_are_named_not_tracebacks(walk, tmp_path, capsys):
    (tmp_path / "empty.npz").write_bytes(b"")
    assert fails(["show", str(tmp_path / "empty.npz")], capsys) == (
        f"flywheel show: {tmp_path / 'empty.npz'}: not a readable .npz (No data left in file)")
    (tmp_path / "empty.npy").write_bytes(b"")
    params = str(write_params(tmp_path))
    for argv in (["simulate", str(tmp_path / "empty.npy"), "--params", params], ["show", str(tmp_path / "empty.npy")]):
        line = fails(argv, capsys)
        assert line.startswith(f"flywheel {argv[0]}: {tmp_path / 'empty.npy'}: ") and "empty" in line, line


def test_params_errors_are_one_line_naming_the_key(walk, tmp_path, capsys):
    params = write_params(tmp_path, radar={"preset": "default", "carrier_hz": "77GHz"})
    assert fails(["simulate", str(walk), "--params", str(params)], capsys) == (
        "flywheel simulate: params.yaml: simulate.radar.carrier_hz: Input should be a valid number, "
        "unable to parse string as a number")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        flywheel(["simulate", "walk.npy", "--method", "exact"])
    assert info.value.code == 2 and "invalid choice: 'exact'" in capsys.readouterr().err


def test_simulate_uses_the_params_thread_count(walk, tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        for threads in (3, 1):
            out = tmp_path / f"t{threads}.npz"
            params = write_params(tmp_path, torch_threads=threads)
            assert flywheel(["simulate", str(walk), "--out", str(out), "--params", str(params)]) == 0
            assert torch.get_num_threads() == threads
            assert capsys.readouterr().out.rstrip().endswith(f"(fast, cpu, {threads} threads)")
    finally:
        torch.set_num_threads(before)
