"""The nodes: load an edit file (or make an edit from images), propagate it with any engine.

Imports ``engine`` only, never GenProp Studio's ``app`` or ``training``: ComfyUI has its
own top-level ``app`` package, and sam2 installs a ``training`` one, so those names are
taken inside ComfyUI. Engines are the registry's (``engine.engines``): classic,
genprop, genprop-training-free, and genprop-vace where its weights are found.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .tensors import frames_to_images, images_to_frames, mask_from_tensor, masks_to_tensor

CATEGORY = "GenProp Studio"
EDIT_TYPE = "GENPROP_EDIT"


@dataclass(frozen=True)
class EditSource:
    """An edit waiting for its clip: an edit file, or frame 1 as edited (+ mask, task)."""

    path: Path | None = None
    edited: np.ndarray | None = None
    mask: np.ndarray | None = None
    task: str = "copy_paste"

    def build(self, first: np.ndarray, frame_count: int) -> Any:
        """The ``FirstFrameEdit`` on this clip's first frame; ValueError naming the problem."""
        from engine.edits.edit_file import EditFileError, load_edit
        from engine.edits.from_frame import edit_from_edited_frame

        if self.path is None:
            assert self.edited is not None
            return edit_from_edited_frame(first, self.edited, self.mask, task=self.task, origin="comfyui")
        try:
            spec, edit = load_edit(self.path, original_frame=first, frame_count=frame_count)
        except EditFileError as exc:
            raise ValueError(f"edit file {self.path}: {exc}") from None
        if spec.frame_index != 0:
            raise ValueError(
                f"edit file {self.path}: the edit was made on frame {spec.frame_index}, but propagation starts at the "
                "first frame of the IMAGE batch; make the edit on frame 0 (or start the batch at that frame)"
            )
        return edit


class GenPropLoadEdit:
    """Load a GenProp Studio edit file (``edit.json`` + its assets, as the app saves it)."""

    CATEGORY = CATEGORY
    RETURN_TYPES = (EDIT_TYPE,)
    RETURN_NAMES = ("edit",)
    FUNCTION = "load"
    DESCRIPTION = "A GenProp Studio edit file (edit.json with its assets folder), made on frame 1 in the app."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802 - ComfyUI's name
        return {"required": {"edit_path": ("STRING", {"default": "", "multiline": False})}}

    def load(self, edit_path: str) -> tuple[EditSource]:
        from engine.edits.edit_file import EditFileError, load_edit

        path = Path(edit_path.strip()).expanduser()
        try:
            load_edit(path)  # checked now, so a bad file fails at this node; applied to the clip later
        except EditFileError as exc:
            raise ValueError(f"edit file {path}: {exc}") from None
        return (EditSource(path=path),)

    @classmethod
    def IS_CHANGED(cls, edit_path: str) -> str:  # noqa: N802 - ComfyUI's name: re-run when the file changes
        try:
            return str(Path(edit_path.strip()).expanduser().stat().st_mtime_ns)
        except OSError:
            return ""


class GenPropEditFromImage:
    """An edit from frame 1 as edited (by any ComfyUI image node) and, optionally, the edited region."""

    CATEGORY = CATEGORY
    RETURN_TYPES = (EDIT_TYPE,)
    RETURN_NAMES = ("edit",)
    FUNCTION = "make"
    DESCRIPTION = (
        "copy_paste/color_fill: the edited pixels follow the clip's motion; mask_and_fill: the masked object is "
        "removed. Without a mask, the pixels that differ from frame 1 are the edit."
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        from engine.edits.from_frame import TASKS

        return {
            "required": {"edited_frame": ("IMAGE",), "task": (list(TASKS[1:]), {"default": "copy_paste"})},
            "optional": {"mask": ("MASK",)},
        }

    def make(self, edited_frame: Any, task: str, mask: Any = None) -> tuple[EditSource]:
        edited = images_to_frames(edited_frame)[0]
        return (EditSource(edited=edited, mask=None if mask is None else mask_from_tensor(mask), task=task),)


class GenPropPropagate:
    """Propagate a first-frame edit through the IMAGE batch (frame 1 = the first image)."""

    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("images", "masks", "warnings")
    FUNCTION = "propagate"
    DESCRIPTION = "The edited clip (IMAGE), the per-frame edit masks (MASK) and the run's warnings, one per line."
    #: Engine instances kept between prompts, so a model loads once.
    _engines: ClassVar[dict[str, Any]] = {}

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        from engine import engines as _registered  # noqa: F401  (registers the engines; no torch)
        from engine.engines.base import engine_names

        return {
            "required": {
                "images": ("IMAGE",),
                "edit": (EDIT_TYPE,),
                "engine": (engine_names(), {"default": "classic"}),
                "fps": ("FLOAT", {"default": 24.0, "min": 1.0, "max": 240.0, "step": 0.001}),
            },
            "optional": {
                "options": ("STRING", {"default": "{}", "multiline": True}),
                "model_dirs": ("STRING", {"default": "", "multiline": False}),
            },
        }

    def propagate(
        self, images: Any, edit: EditSource, engine: str, fps: float, options: str = "{}", model_dirs: str = ""
    ) -> tuple[Any, Any, str]:
        from engine import engines as _registered  # noqa: F401  (not `import engine.engines`: `engine` is the argument)
        from engine.engines.base import CancelToken, PropagationCancelled, get_engine
        from engine.video.source import ArrayClip

        frames = images_to_frames(images)
        clip = ArrayClip(frames, fps)
        first_edit = edit.build(frames[0], len(frames))
        run_options = self._options(engine, options, self._model_dirs(model_dirs))
        cancel = CancelToken()
        progress = _ComfyProgress(cancel)
        instance = self._engines.get(engine)
        if instance is None:
            instance = self._engines[engine] = get_engine(engine)()
        try:  # an engine without its weights raises EngineUnavailableError saying where it looked
            result = instance.propagate(clip, first_edit, run_options, progress, cancel)
        except PropagationCancelled:
            progress.raise_interrupted()
            raise
        warnings = result.extras.get("warnings", []) if isinstance(result.extras, dict) else []
        return frames_to_images(result.frames), masks_to_tensor(result.masks), "\n".join(warnings)

    @staticmethod
    def _model_dirs(text: str) -> list[str]:
        """The folders given (``os.pathsep``-separated), then ComfyUI's ``models/genprop`` when it exists."""
        dirs = [d.strip() for d in text.split(os.pathsep) if d.strip()]
        try:
            import folder_paths  # ComfyUI's

            comfy = Path(folder_paths.models_dir) / "genprop"
            if comfy.is_dir():
                dirs.append(str(comfy))
        except ImportError:
            pass
        return dirs

    @staticmethod
    def _options(engine: str, text: str, model_dirs: list[str]) -> dict[str, Any]:
        """The JSON object of engine options (checked by the engine), plus the weight folders it takes."""
        from engine.engines.base import engine_spec

        try:
            values = json.loads(text.strip() or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f'options must be a JSON object such as {{"steps": 25}}: {exc.msg}') from None
        if not isinstance(values, dict):
            raise ValueError(f'options must be a JSON object such as {{"steps": 25}}, got {type(values).__name__}')
        spec = engine_spec(engine)
        # as app.engine_options.run_options does (that module cannot be imported inside ComfyUI, see above)
        if spec.options is not None and "model_dirs" in {f.name for f in dataclasses.fields(spec.options)}:
            values["model_dirs"] = model_dirs
        return values


class _ComfyProgress:
    """Engine progress -> ComfyUI's progress bar; ComfyUI's Interrupt -> the engine's cancel token."""

    def __init__(self, cancel: Any) -> None:
        self._cancel = cancel
        self._bar: Any = None
        try:
            import comfy.model_management as mm
            import comfy.utils

            self._mm: Any = mm
            self._bar_class: Any = comfy.utils.ProgressBar
        except ImportError:  # outside ComfyUI (tests, scripts)
            self._mm = None
            self._bar_class = None

    def __call__(self, p: Any) -> None:
        if self._mm is not None and self._mm.processing_interrupted():
            self._cancel.cancel()
        if self._bar_class is not None and p.total > 0:
            if self._bar is None:
                self._bar = self._bar_class(p.total)
            self._bar.update_absolute(p.done, p.total)

    def raise_interrupted(self) -> None:
        if self._mm is not None:
            self._mm.throw_exception_if_processing_interrupted()


NODE_CLASS_MAPPINGS = {
    "GenPropLoadEdit": GenPropLoadEdit,
    "GenPropEditFromImage": GenPropEditFromImage,
    "GenPropPropagate": GenPropPropagate,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "GenPropLoadEdit": "GenProp: Load edit file",
    "GenPropEditFromImage": "GenProp: Edit from image",
    "GenPropPropagate": "GenProp: Propagate edit",
}
