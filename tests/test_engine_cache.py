"""Loaded models stay loaded between jobs (issue 16): the app's engine cache."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.engine_cache import EngineCache, load_key
from app.jobs import AttentionRecordJob, PropagationJob
from engine.engines.base import CancelToken, PropagationCancelled


class _Dummy:
    """An engine class: instances counted, one option decides its 'weights'."""

    load_options = ("weights",)
    made = 0

    def __init__(self) -> None:
        type(self).made += 1


def test_same_load_options_same_instance_other_options_replace_it() -> None:
    cache = EngineCache(max_engines=1, free_memory=lambda: None)
    with cache.lease("dummy", _Dummy, {"weights": "a", "steps": 3}) as first:
        pass
    with cache.lease("dummy", _Dummy, {"weights": "a", "steps": 25}) as again:  # steps do not decide the models
        pass
    assert again is first and cache.created == 1
    with cache.lease("dummy", _Dummy, {"weights": "b"}) as other:
        assert other is not first
    assert cache.created == 2 and len(cache) == 1  # the old one was released before the new one was made
    assert load_key("dummy", _Dummy, {"weights": "b", "seed": 1}) == load_key("dummy", _Dummy, {"weights": "b"})


def test_one_job_at_a_time_uses_an_engine() -> None:
    cache = EngineCache(free_memory=lambda: None)
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with cache.lease("dummy", _Dummy, {}):
            inside.set()
            order.append("first in")
            time.sleep(0.3)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    inside.wait(5)
    with cache.lease("dummy", _Dummy, {}):
        order.append("second in")
    t.join()
    assert order == ["first in", "first out", "second in"]


def test_waiting_for_a_busy_engine_can_be_cancelled() -> None:
    cache = EngineCache(free_memory=lambda: None)
    token = CancelToken()
    with cache.lease("dummy", _Dummy, {}):
        token.cancel()
        with pytest.raises(PropagationCancelled):
            with cache.lease("dummy", _Dummy, {}, token):
                pass
    assert cache.release_idle() == 1  # the cancelled wait took no lease: the engine is idle again


def test_low_memory_and_out_of_memory_release_engines() -> None:
    free = {"bytes": 8 << 30}
    cache = EngineCache(low_memory_bytes=1 << 30, free_memory=lambda: free["bytes"])
    with cache.lease("dummy", _Dummy, {}):
        pass
    assert len(cache) == 1
    free["bytes"] = 100 << 20
    with cache.lease("dummy", _Dummy, {}):
        pass
    assert len(cache) == 0  # released once the job let go
    free["bytes"] = 8 << 30
    with pytest.raises(MemoryError):
        with cache.lease("dummy", _Dummy, {}):
            raise MemoryError
    assert len(cache) == 0  # a run that ran out of memory does not keep its models
    with cache.lease("dummy", _Dummy, {}):
        pass
    cache.release_all()
    assert len(cache) == 0


@pytest.fixture(scope="module")
def saved_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random-weight GenProp components saved as a diffusers folder (with its heads)."""
    from engine.pipelines import GenPropPipeline
    from engine.pipelines.dummy import tiny_components

    folder = tmp_path_factory.mktemp("weights") / "svd"
    components = tiny_components(0, randomize_heads=True)
    heads = components.pop("heads")
    GenPropPipeline.from_components(heads=heads, **components).save_pretrained(folder)
    return folder


def test_propagate_twice_and_attention_load_the_weights_once(saved_svd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.pipelines import GenPropPipeline
    from tests.test_pipeline_engine import generated_clip, paste_edit

    monkeypatch.setenv("GENPROP_SVD_PATH", str(saved_svd))
    loads: list[str] = []
    real = GenPropPipeline.from_pretrained.__func__  # type: ignore[attr-defined]

    def counting(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(str(args[0]))
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(GenPropPipeline, "from_pretrained", classmethod(counting))
    clip = generated_clip(5)
    edit = paste_edit(clip[0])
    options = {"steps": 1, "long_side": 32, "window": 4, "overlap": 1, "max_guidance": 1.0, "feather": 2, "memory": "fp32"}

    def run(engines: EngineCache | None, opts: dict = options) -> None:
        result = PropagationJob("genprop", clip, edit, opts, engines=engines)(lambda p: None, CancelToken())
        assert result.frames.shape == (5, 27, 45, 3)

    run(None)
    run(None)
    assert len(loads) == 2  # without the cache every job loads the weights (what the app did before)
    loads.clear()
    cache = EngineCache(free_memory=lambda: None)
    run(cache)
    run(cache)
    record = AttentionRecordJob("genprop", clip, edit, options, frames=4, engines=cache)(lambda p: None, CancelToken())
    assert record is not None and record.num_frames == 4
    assert len(loads) == 1 and cache.created == 1  # one load for two Propagates and an attention recording
    run(cache, {**options, "memory": "bf16"})  # the precision decides what is loaded: a fresh load, the old released
    assert len(loads) == 2 and len(cache) == 1
