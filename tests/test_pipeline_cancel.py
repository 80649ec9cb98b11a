"""Cancel takes effect within one block of a denoising step, inside VAE chunks and during model loading."""

from __future__ import annotations

import threading
import time

import pytest

import engine.engines  # noqa: F401  (registers engines)
from engine.engines.base import CancelToken, PropagationCancelled, get_engine
from engine.pipelines import GenPropPipeline
from engine.pipelines.dummy import tiny_components
from tests.test_pipeline_engine import generated_clip, paste_edit

OPTS = {"steps": 3, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 2.0, "feather": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def pipe() -> GenPropPipeline:
    return GenPropPipeline.from_components(**tiny_components(0, randomize_heads=True))


def _count_calls(module, calls: list[str], name: str):  # type: ignore[no-untyped-def]
    return module.register_forward_hook(lambda *_: calls.append(name))


def test_cancel_inside_a_denoising_step_stops_before_the_next_block(pipe: GenPropPipeline) -> None:
    clip = generated_clip(n=4)
    cancel = CancelToken()
    calls: list[str] = []
    first = pipe.unet.down_blocks[0].register_forward_hook(lambda *_: cancel.cancel())  # the user clicks Cancel mid-step
    counters = [_count_calls(pipe.unet.up_blocks[-1], calls, "last up block")]
    try:
        with pytest.raises(PropagationCancelled):
            get_engine("genprop")(pipeline=pipe).propagate(clip, paste_edit(clip[0]), OPTS, cancel=cancel)
    finally:
        for handle in (first, *counters):
            handle.remove()
    assert calls == []  # the step that was running did not finish its remaining blocks


def test_cancel_inside_a_vae_decode_chunk(pipe: GenPropPipeline) -> None:
    clip = generated_clip(n=4)
    cancel = CancelToken()
    calls: list[str] = []
    decoder = pipe.vae.decoder
    first = decoder.mid_block.register_forward_hook(lambda *_: cancel.cancel())
    last = _count_calls(decoder.up_blocks[-1], calls, "last decoder block")
    try:
        with pytest.raises(PropagationCancelled):
            get_engine("genprop")(pipeline=pipe).propagate(clip, paste_edit(clip[0]), OPTS, cancel=cancel)
    finally:
        first.remove()
        last.remove()
    assert calls == []


def test_cancel_while_the_models_load(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Loading is one long library call: the job stops waiting for it at once."""
    components = tiny_components(0, randomize_heads=True)
    heads = components.pop("heads")
    folder = tmp_path / "svd"
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(folder)
    release = threading.Event()

    def slow_load(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(30)  # a load that takes "minutes"
        raise AssertionError("the cancelled load's result must not be used")

    monkeypatch.setattr(GenPropPipeline, "from_pretrained", classmethod(lambda cls, *a, **k: slow_load(*a, **k)))
    clip = generated_clip(n=4)
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    start = time.monotonic()
    with pytest.raises(PropagationCancelled):
        get_engine("genprop")().propagate(
            clip, paste_edit(clip[0]), {**OPTS, "svd": str(folder), "weights": str(folder / "genprop")}, cancel=cancel
        )
    assert time.monotonic() - start < 3.0
    release.set()
