"""Checkpoints: written whole or not at all, the last few kept, a corrupt newest one skipped."""

import logging

import torch

from metta.rl.checkpoint import CheckpointStore


def test_keeps_the_newest_and_loads_the_latest(tmp_path):
    store = CheckpointStore(tmp_path, keep=2)
    for epoch in (5, 10, 15):
        store.save({"epoch": epoch, "w": torch.full((2,), float(epoch))}, epoch)
    assert [p.name for p in store.paths()] == ["checkpoint_0000010.pt", "checkpoint_0000015.pt"]
    state, path = store.load_latest()
    assert state["epoch"] == 15 and path.name == "checkpoint_0000015.pt"
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_latest_falls_back_with_a_warning(tmp_path, caplog):
    store = CheckpointStore(tmp_path, keep=3)
    store.save({"epoch": 1}, 1)
    store.save({"epoch": 2}, 2)
    latest = store.paths()[-1]
    latest.write_bytes(latest.read_bytes()[:40])  # torn
    with caplog.at_level(logging.WARNING):
        state, path = store.load_latest()
    assert state["epoch"] == 1
    assert "checkpoint_0000002.pt is unreadable" in caplog.text


def test_nothing_to_resume(tmp_path):
    assert CheckpointStore(tmp_path / "none").load_latest() is None
