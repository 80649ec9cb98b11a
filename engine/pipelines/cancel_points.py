"""Cancel points inside the models, so Cancel takes effect within one block, not one whole step.

On a CPU one denoising step of full-size SVD, or one VAE decode chunk, can take minutes;
checking the cancel token only between steps made "Cancel" wait that long. While the
context is active, every U-Net block and every VAE encoder/decoder block checks first
(a forward pre-hook that raises), so a cancel stops the run within one block's time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn


def _blocks(pipe: Any) -> list[nn.Module]:
    found: list[nn.Module] = []
    unet = getattr(pipe, "unet", None)
    if unet is not None:
        found += [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    vae = getattr(pipe, "vae", None)
    for coder in (getattr(vae, "encoder", None), getattr(vae, "decoder", None)):
        if coder is not None:
            found += [*getattr(coder, "down_blocks", []), *getattr(coder, "up_blocks", [])]
            if getattr(coder, "mid_block", None) is not None:
                found.append(coder.mid_block)
    return [m for m in found if isinstance(m, nn.Module)]


@contextmanager
def cancel_points(pipe: Any, check: Callable[[], None]) -> Iterator[int]:
    """Call ``check()`` (which raises to cancel) before every U-Net and VAE block; yields how many."""
    handles = [block.register_forward_pre_hook(lambda _module, _args: check()) for block in _blocks(pipe)]
    try:
        yield len(handles)
    finally:
        for handle in handles:
            handle.remove()
