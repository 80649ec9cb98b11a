"""The model-space transform: sizes models need, and an exact way back."""

from __future__ import annotations

import numpy as np
import pytest

from engine.video import ModelSpace, TimeMap


@pytest.mark.parametrize("size", [(1280, 720), (641, 359), (720, 1280), (1920, 1080), (320, 240), (77, 1000)])
def test_model_size_is_multiple_of_64_with_aspect_kept(size: tuple[int, int]) -> None:
    space = ModelSpace.fit(size, long_side=512)
    assert space.model_width % 64 == 0 and space.model_height % 64 == 0
    assert max(space.content_width, space.content_height) == 512
    assert space.content_width / space.content_height == pytest.approx(size[0] / size[1], rel=0.02)


def test_identity_when_already_fitting_is_bit_exact() -> None:
    space = ModelSpace.fit((512, 320), long_side=512)
    image = np.random.default_rng(0).integers(0, 256, (320, 512, 3), dtype=np.uint8)
    model = space.to_model(image)
    assert model.shape == (320, 512, 3)
    np.testing.assert_array_equal(space.from_model(model), image)


@pytest.mark.parametrize("size", [(641, 359), (500, 300), (100, 37)])
def test_padding_is_removed_exactly(size: tuple[int, int]) -> None:
    """With no rescale (long side already the target), to_model -> from_model is exact."""
    w, h = size
    long_side = -(-max(w, h) // 64) * 64
    space = ModelSpace(w, h, w, h, -(-w // 64) * 64, -(-h // 64) * 64, 3, 5)
    image = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    model = space.to_model(image)
    assert model.shape[:2] == (space.model_height, space.model_width)
    np.testing.assert_array_equal(space.from_model(model), image)
    mask = (image[..., 0] > 128).astype(np.uint8) * 255
    np.testing.assert_array_equal(space.from_model(space.to_model(mask, mask=True), mask=True), mask)
    assert space.valid_region().sum() // 255 == w * h
    assert long_side % 64 == 0


def test_rescaled_round_trip_restores_source_size_and_content() -> None:
    space = ModelSpace.fit((1280, 720), long_side=512)
    yy, xx = np.mgrid[0:720, 0:1280]
    image = np.dstack([(xx / 5) % 256, (yy / 3) % 256, np.full_like(xx, 90)]).astype(np.uint8)
    back = space.from_model(space.to_model(image))
    assert back.shape == image.shape
    assert np.abs(back.astype(int) - image).mean() < 3.0


def test_bad_sizes_are_named() -> None:
    with pytest.raises(ValueError, match="positive"):
        ModelSpace.fit((0, 10))
    with pytest.raises(ValueError, match="expected 1280x720"):
        ModelSpace.fit((1280, 720)).to_model(np.zeros((10, 10, 3), np.uint8))


def test_time_map_round_trip() -> None:
    same = TimeMap(source_count=20, source_fps=24, model_fps=24)
    assert same.model_indices() == list(range(20))
    assert same.source_to_model() == list(range(20))
    half = TimeMap(source_count=30, source_fps=30, model_fps=15)
    picks = half.model_indices()
    assert picks[0] == 0 and len(picks) == 15 and picks == sorted(picks)
    back = half.source_to_model()
    assert len(back) == 30 and back[0] == 0 and back[-1] == len(picks) - 1
