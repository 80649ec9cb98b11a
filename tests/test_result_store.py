"""The on-disk result store: exact random access, atomic completion, partial after a crash, hostile folders refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.engines.base import PropagationResult
from engine.result_store import (
    FRAMES_FOLDER,
    RESULT_FILE,
    ResultWriter,
    StoreError,
    StoreState,
    discard,
    inspect,
    is_complete,
    open_result,
    write_result,
)

W, H = 48, 32


def frame(t: int) -> np.ndarray:
    rng = np.random.default_rng(t)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def mask(t: int) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[t % H, :] = 255
    m[:, t % W] = 255
    return m


def write_frames(folder: Path, n: int, **kw) -> ResultWriter:
    writer = ResultWriter(folder, 25.0, (W, H), expected_frames=n, **kw)
    for t in range(n):
        writer.put(frame(t), mask(t))
    return writer


def test_random_access_is_exact_in_any_order(tmp_path: Path) -> None:
    writer = write_frames(tmp_path / "r", 11)
    result = writer.finish("classic", "classic", {"warnings": ["w1"], "frame_notes": {3: "cut"}}, {"read": 1.5})
    assert len(result.frames) == 11 and result.frames.shape == (11, H, W, 3) and result.masks.shape == (11, H, W)
    for t in [10, 0, 5, 4, 3, 9, 1, 10, 2]:  # any order, backwards, repeated
        np.testing.assert_array_equal(result.frames[t], frame(t))
        np.testing.assert_array_equal(result.masks[t], mask(t))
    np.testing.assert_array_equal(result.frames[-1], frame(10))
    assert result.frames[2:5].shape == (3, H, W, 3)
    with pytest.raises(IndexError):
        result.frames[11]
    again = open_result(tmp_path / "r")
    assert again.fps == 25.0 and again.engine == "classic" and again.extras["warnings"] == ["w1"]
    assert again.extras["frame_notes"] == {3: "cut"} and again.timings == {"read": 1.5}
    assert is_complete(tmp_path / "r") and inspect(tmp_path / "r").frames == 11


def test_a_pass_over_stored_frames_hands_freed_memory_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports iterate the store: a trim before the first frame (what the run left) and a time-spaced one per
    frame, so a long transcode does not keep a fragmented heap's fresh pages (~21 KB a frame at 1080p)."""
    import engine.result_store as store

    result = write_frames(tmp_path / "r", 5).finish("classic")
    calls: list[str] = []
    monkeypatch.setattr(store, "release_free_memory", lambda: calls.append("now") or True)
    monkeypatch.setattr(store, "release_free_memory_now_and_then", lambda: calls.append("spaced"))
    frames = list(result.frames)
    assert len(frames) == 5 and calls == ["now"] + ["spaced"] * 5
    np.testing.assert_array_equal(frames[3], frame(3))
    list(result.masks)
    assert calls.count("now") == 2 and calls.count("spaced") == 10


def test_a_full_disk_is_a_store_error_naming_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while writing frames (a 4,800-frame 1080p run filled a disk) names the store, not a bare OSError."""
    import errno

    import engine.result_store as store

    def full(path: Path, image: np.ndarray, level: int = 0) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_write_png", full)
    with pytest.raises(
        StoreError, match=r"r: the result store could not write frame 0: no room left on its disk \(No space left on device\)"
    ):
        with ResultWriter(tmp_path / "r", 25.0, (W, H), expected_frames=3) as writer:
            for t in range(3):
                writer.put(frame(t), mask(t))


def test_memory_result_round_trips_with_operation_masks(tmp_path: Path) -> None:
    frames = np.stack([frame(t) for t in range(6)])
    masks = np.stack([mask(t) for t in range(6)])
    ops = [masks, 255 - masks]
    memory = PropagationResult(frames, masks, 24.0, "classic", extras={"operation_masks": ops, "warnings": []})
    write_result(memory, tmp_path / "r")
    stored = open_result(tmp_path / "r")
    np.testing.assert_array_equal(np.asarray(stored.frames), frames)
    np.testing.assert_array_equal(np.asarray(stored.masks), masks)
    assert len(stored.extras["operation_masks"]) == 2
    np.testing.assert_array_equal(stored.extras["operation_masks"][1][4], 255 - masks[4])


def test_completion_is_atomic_result_json_last(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    writer = write_frames(folder, 9)
    assert not (folder / RESULT_FILE).exists()  # nothing says "complete" before finish
    status = inspect(folder)
    assert status.state is StoreState.PARTIAL and status.expected == 9
    with pytest.raises(StoreError, match="partial"):
        open_result(folder)
    writer.finish("e")
    assert inspect(folder).state is StoreState.COMPLETE


def test_a_crash_leaves_a_marked_partial_that_reads_its_frames_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    with pytest.raises(RuntimeError):
        with write_frames(folder, 10):  # 10 frames put, then the engine dies
            raise RuntimeError("the engine died")
    (folder / FRAMES_FOLDER / "frame_000008.png").unlink()  # as if the process died while frame 8 was written
    status = inspect(folder)
    assert status.state is StoreState.PARTIAL and status.frames == 8 and status.expected == 10
    partial = open_result(folder, allow_partial=True)
    assert len(partial.frames) == 8 and any("partial" in w for w in partial.extras["warnings"])
    np.testing.assert_array_equal(partial.frames[7], frame(7))
    # resume after the last frame present
    writer = ResultWriter(folder, 25.0, (W, H), resume=True)
    assert writer.frames_written == 8
    for t in range(8, 12):
        writer.put(frame(t), mask(t))
    done = writer.finish("e")
    assert len(done.frames) == 12
    np.testing.assert_array_equal(done.frames[9], frame(9))
    np.testing.assert_array_equal(done.masks[11], mask(11))


def test_a_half_written_frame_is_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_frames(folder, 8).close()
    (folder / FRAMES_FOLDER / ".frame_000008.png.partial-99999").write_bytes(b"\x89PNG garbage")
    assert inspect(folder).frames == 8
    discard(folder)
    assert not folder.exists()


def test_a_corrupt_frame_file_is_refused_with_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_frames(folder, 3).finish("e")
    path = folder / FRAMES_FOLDER / "frame_000001.png"
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # a flipped byte inside the image data: the CRC no longer matches
    path.write_bytes(bytes(data))
    result = open_result(folder)
    with pytest.raises(StoreError, match="frame_000001"):
        result.frames[1]
    np.testing.assert_array_equal(result.frames[2], frame(2))


def test_discard_refuses_a_folder_that_is_not_a_result(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "holiday.mp4").write_bytes(b"x")
    with pytest.raises(StoreError, match="not a result folder"):
        discard(tmp_path / "mine")
    assert (tmp_path / "mine" / "holiday.mp4").exists()


def test_writer_refuses_a_non_empty_folder_and_wrong_frames(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_bytes(b"")
    with pytest.raises(StoreError, match="not empty"):
        ResultWriter(tmp_path / "x", 25.0, (W, H))
    writer = ResultWriter(tmp_path / "y", 25.0, (W, H))
    with pytest.raises(StoreError, match="expected"):
        writer.put(np.zeros((H + 1, W, 3), np.uint8), np.zeros((H + 1, W), np.uint8))
    writer.close()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlinked_frame_leading_outside_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_frames(folder, 4).finish("e")
    outside = tmp_path / "outside.png"
    (folder / FRAMES_FOLDER / "frame_000000.png").rename(outside)
    os.symlink(outside, folder / FRAMES_FOLDER / "frame_000000.png")
    result = open_result(folder)
    with pytest.raises(StoreError, match="outside"):
        result.frames[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_a_mask_is_refused_without_blocking(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_frames(folder, 4).finish("e")
    target = folder / "masks" / "mask_000001.png"
    target.unlink()
    os.mkfifo(target)
    result = open_result(folder)
    with pytest.raises(StoreError, match="FIFO|regular"):
        result.masks[1]


def test_a_hostile_layout_is_refused_with_the_file_named(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_frames(folder, 4).finish("e")
    layout = json.loads((folder / "store.json").read_text())
    layout["width"] = -5
    (folder / "store.json").write_text(json.dumps(layout))
    with pytest.raises(StoreError, match="store.json.*width"):
        open_result(folder)
    (folder / "store.json").write_text("[" * 10_000)
    with pytest.raises(StoreError, match="store.json"):
        open_result(folder)


def test_result_json_listing_more_frames_than_stored_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_frames(folder, 4).finish("e")
    meta = json.loads((folder / RESULT_FILE).read_text())
    meta["frames"] = 400
    (folder / RESULT_FILE).write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="frame files are missing"):
        open_result(folder)


def test_stored_frames_are_unfiltered_png_rows(tmp_path: Path) -> None:
    """Frames are stored without deflate, so the "sub" filter only cost a pass on write and
    another on read (1080p: 22 -> 15 ms to encode, 20 -> 13 ms to decode without it)."""
    import struct
    import zlib

    write_frames(tmp_path / "r", 2).finish("classic", "classic")
    data = (tmp_path / "r" / "frames" / "frame_000001.png").read_bytes()
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    f = frame(1)
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(f.shape[0], 1 + f.shape[1] * 3)
    assert not rows[:, 0].any()  # filter type 0 (none) on every row
    assert np.array_equal(open_result(tmp_path / "r").frames[1], f)
