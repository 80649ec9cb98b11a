"""The app's export: every output format the CLI writes, through the CLI's writer, from a GUI job."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from app.export_choices import (
    chosen_format,
    default_filter,
    export_target,
    filter_text,
    renamed_for,
    result_filters,
    suggested_name,
)
from app.jobs import ExportJob, PropagationJob
from engine.edits.compose import compose
from engine.edits.recolour import RecolourSpec
from engine.engines.base import CancelToken, PropagationCancelled
from engine.video import VideoError, open_video
from engine.video.formats import FORMATS
from tests.formats_media import deep_frames, disc_mask, encode_with_cli

W, H = 64, 48


def test_the_dialog_offers_every_format_and_maps_the_answer_back() -> None:
    filters = result_filters()
    assert len(filters) == len(FORMATS) == len(set(filters))
    for fmt in FORMATS.values():
        assert chosen_format(filter_text(fmt)) is fmt
    assert chosen_format(default_filter()).name == "video" and chosen_format("something else").name == "video"
    assert "*.mov" in filter_text(FORMATS["prores-422-hq"]) and "folder" in filter_text(FORMATS["exr"])
    # a file typed without a suffix gets the format's; a folder is the name typed
    assert export_target("/x/cut", FORMATS["prores-4444"]) == Path("/x/cut.mov")
    assert export_target("/x/cut.mkv", FORMATS["lossless"]) == Path("/x/cut.mkv")
    assert export_target("/x/frames", FORMATS["png16"]) == Path("/x/frames")
    # switching the type in the dialog renames what was typed
    assert renamed_for("result.mp4", FORMATS["prores-422-hq"]) == "result.mov"
    assert renamed_for("cut.mkv", FORMATS["lossless"]) == "cut.mkv" and renamed_for("cut.mov", FORMATS["video"]) == "cut.mov"
    assert renamed_for("result.mp4", FORMATS["png16"]) == "result" and renamed_for("frames", FORMATS["exr"]) == "frames"
    assert renamed_for("frames", FORMATS["dnxhr-hqx"]) == "frames.mov" and renamed_for("v1.2", FORMATS["video"]) == "v1.2.mp4"
    assert suggested_name(FORMATS["video"]) == "result.mp4" and not Path(suggested_name(FORMATS["exr"])).suffix


@pytest.fixture(scope="module")
def ten_bit_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A 10-bit ProRes source and the app's own propagation of a recolour over it."""
    folder = tmp_path_factory.mktemp("export")
    src = encode_with_cli(folder / "src.mov", deep_frames(6), ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"])
    clip = open_video(src)
    edit = compose(clip[0], [RecolourSpec(mask=disc_mask(W, H), hue_shift=120, saturation=1.3)])
    result = PropagationJob("classic", clip, edit)(lambda p: None, CancelToken())
    yield src, clip, result
    clip.close()


def _codec(path: Path) -> tuple[str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, stream.codec_context.format.name


def test_prores_from_the_app_carries_the_10_bit_source(ten_bit_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src, clip, result = ten_bit_run
    assert result.extras["edit"].operations  # the run recorded the edit it was made with
    job = ExportJob(result, "video", tmp_path / "cut.mov", source=clip, format="prores-422-hq")
    assert job(lambda p: None, CancelToken()) == tmp_path / "cut.mov"
    assert _codec(tmp_path / "cut.mov") == ("prores", "yuv422p10le")
    out = open_video(tmp_path / "cut.mov", depth=16)
    hi = open_video(src, depth=16)
    try:
        assert len(out) == 6 and out.size == (W, H)
        # outside the edit (a few pixels off its edge: 4:2:2 chroma spans it) the source's 10-bit values
        # come back, to ProRes' own round trip, not 8-bit steps
        untouched = cv2.erode((result.masks[2] == 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        source = hi[2][untouched].astype(float)
        exported_error = np.abs(out[2][untouched] - source).mean()
        eight_bit_error = np.abs(result.frames[2][untouched] * 257.0 - source).mean()
        assert exported_error < eight_bit_error / 2, (exported_error, eight_bit_error)
        assert len(np.unique(out[2][..., 0])) > 2 * len(np.unique(result.frames[2][..., 0]))
    finally:
        out.close()
        hi.close()
    assert any("full depth" in n or "per operation" in n for n in job.notes), job.notes


def test_a_result_without_its_edit_is_written_at_8_bits_and_says_so(ten_bit_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, clip, result = ten_bit_run
    reopened = type(result)(result.frames, result.masks, result.fps, result.engine)  # e.g. from a saved project
    job = ExportJob(reopened, "frames", tmp_path / "frames", source=clip, format="png16")
    job(lambda p: None, CancelToken())
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 6
    assert any("8-bit frames" in n for n in job.notes), job.notes


def test_a_wrong_name_or_a_cancel_leaves_nothing(ten_bit_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, clip, result = ten_bit_run
    with pytest.raises(ValueError, match="folder"):
        ExportJob(result, "video", tmp_path / "x.mp4", source=clip, format="exr")(lambda p: None, CancelToken())
    with pytest.raises(VideoError, match="input"):  # the source itself is never overwritten
        ExportJob(result, "video", Path(clip.path), source=clip, format="prores-4444")(lambda p: None, CancelToken())
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(PropagationCancelled):
        ExportJob(result, "video", tmp_path / "y.mkv", source=clip, format="lossless")(lambda p: None, cancel)
    assert not list(tmp_path.iterdir())


def test_an_export_never_replaces_a_folder_of_the_users_files(tmp_path: Path) -> None:
    """The masks and frames exports replace their folder whole: one holding anything but an earlier
    export's PNGs is refused, and the user's file is still there."""
    from types import SimpleNamespace

    result = SimpleNamespace(frames=np.zeros((3, 16, 16, 3), np.uint8), masks=np.zeros((3, 16, 16), np.uint8), fps=24.0)
    for kind, first in (("masks", "mask_00000.png"), ("frames", "frame_00000.png")):
        folder = tmp_path / kind
        ExportJob(result, kind, folder)(lambda p: None, CancelToken())
        ExportJob(result, kind, folder)(lambda p: None, CancelToken())  # an earlier export is replaced
        assert (folder / first).is_file()
        mine = tmp_path / f"mine_{kind}"
        mine.mkdir()
        (mine / "notes.txt").write_text("keep me")
        with pytest.raises(VideoError, match="holds other files"):
            ExportJob(result, kind, mine)(lambda p: None, CancelToken())
        assert [p.name for p in mine.iterdir()] == ["notes.txt"]
