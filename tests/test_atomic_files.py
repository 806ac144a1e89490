"""Atomic writes: a failed or interrupted write never damages the file it was replacing."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
import torch

from textgan.atomic_files import atomic_torch_save, atomic_write, atomic_write_text


def test_a_full_disk_names_the_file_keeps_the_previous_version_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "samples.txt"
    atomic_write_text(target, "the previous samples\n")

    def runs_out_of_space(tmp):
        tmp.write_text("half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=rf"could not write {target}: No space left on device; the previous file is kept"):
        atomic_write(target, runs_out_of_space)
    assert target.read_text() == "the previous samples\n"
    assert [p.name for p in tmp_path.iterdir()] == ["samples.txt"]


def test_a_failed_first_write_says_nothing_was_written(tmp_path):
    def fails(tmp):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    with pytest.raises(OSError, match="Disk quota exceeded; nothing was written") as raised:
        atomic_write(tmp_path / "new.pt", fails)
    assert raised.value.errno == errno.EDQUOT  # callers can still tell what happened
    assert list(tmp_path.iterdir()) == []


def test_a_complete_write_replaces_the_file(tmp_path):
    path = atomic_torch_save({"x": torch.arange(3)}, tmp_path / "sub" / "file.pt")
    assert torch.equal(torch.load(path)["x"], torch.arange(3))


def test_a_writer_killed_mid_write_leaves_nothing_behind_once_the_target_is_written_again(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".sample[1].txt.tmp-{dead.pid}"  # brackets: the name is matched literally
    live = tmp_path / f".sample[1].txt.tmp-{os.getppid()}"  # a writer still running keeps its file
    other = tmp_path / f".other.txt.tmp-{dead.pid}"  # another target's file waits for that target's write
    for path in (orphan, live, other):
        path.write_text("half a file")
    atomic_write_text(tmp_path / "sample[1].txt", "whole\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "sample[1].txt"])
