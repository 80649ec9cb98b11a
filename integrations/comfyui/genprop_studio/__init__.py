"""GenProp Studio nodes for ComfyUI: put this folder (or a symlink to it) in ComfyUI's ``custom_nodes``.

GenProp Studio must be importable from ComfyUI's Python: installed into that environment
(``pip install -e /path/to/genprop-studio``), found through a symlinked folder (its real
place is inside the GenProp Studio checkout), or named by ``GENPROP_STUDIO_ROOT``. Its
requirements (PyAV, OpenCV, diffusers for the genprop engines) must be installed there.
See docs/formats.md, "ComfyUI".
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def _make_genprop_importable() -> None:
    """Put GenProp Studio's checkout at the end of ``sys.path`` (never before ComfyUI's own modules)."""
    try:
        if importlib.util.find_spec("engine.video") is not None:
            return
    except (ImportError, ValueError):
        pass
    given = os.environ.get("GENPROP_STUDIO_ROOT")
    root = Path(given) if given else Path(__file__).resolve().parents[3]
    if not (root / "engine" / "video").is_dir():
        raise ImportError(
            f"GenProp Studio was not found (looked in {root}): install it into ComfyUI's Python, symlink this folder "
            "from a GenProp Studio checkout, or set GENPROP_STUDIO_ROOT to the checkout"
        )
    sys.path.append(str(root))


_make_genprop_importable()

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: E402

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
