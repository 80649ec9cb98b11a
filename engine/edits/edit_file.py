"""Edit files: a first-frame edit as JSON plus PNG assets in one folder.

Shared by the CLI (``propagate --edit``) and the GUI's project files. The format is
documented in ``docs/edit_format.md``. Loading checks everything before anything is
applied and names the bad field (``operations[2].scale must be > 0, got -1``). Asset
paths are relative to the JSON file's folder and may not leave it: absolute paths,
``..`` and symlinks pointing outside are refused, so opening an edit file someone sent
you cannot read arbitrary files on your disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from engine.edit import FirstFrameEdit, Keyframe, check_keyframes
from engine.edits.compose import as_spec, compose
from engine.edits.specs import OpSpec, check_canvas, spec_classes, spec_from_dict, spec_to_dict
from engine.safe_paths import MAX_JSON_BYTES, contained, load_json, one_line
from engine.video.png import read_png

FORMAT = "genprop-edit"
VERSION = 2
ASSET_DIR = "assets"
_TOP_KEYS = {"format", "version", "frame_size", "source", "frame_index", "original_frame", "operations", "keyframes"}
_KEYFRAME_KEYS = {"frame", "masks", "edited_frame"}
#: Keyframes of one edit: each is a correction a user made by hand.
MAX_KEYFRAMES = 1000
_PNG_MODES = {"L": "L", "RGB": "RGB", "RGBA": "RGBA"}
#: An edit is a handful of operations; each may take seconds, so 10,000 would run for hours.
MAX_OPERATIONS = 100
#: Decoded assets (masks, layers, frame) of one edit, in bytes: ~100 4K masks.
MAX_ASSET_BYTES = 1 << 30


class EditFileError(ValueError):
    """An edit file is malformed, unsafe or does not fit its frame; the message says where.

    The message is one line of at most 400 characters, however large the bad value (``one_line``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@dataclass
class EditSpec:
    """What an edit file holds.

    Attributes:
        operations: op specs in the order they are applied.
        frame_size: (width, height) of frame 1 the edit was made on.
        source: the clip the edit belongs to, as the user gave it (informational; the
            CLI's clip argument wins).
        frame_index: which frame of the clip was edited (0 = first).
        original_frame: ``[H, W, 3]`` uint8 frame 1, when stored, so the edit can be
            rebuilt without the clip.
        keyframes: corrections on later frames (``engine.edit.Keyframe``; version 2 files), in
            file order (``FirstFrameEdit`` sorts them).
    """

    operations: list[OpSpec] = field(default_factory=list)
    frame_size: tuple[int, int] | None = None
    source: str | None = None
    frame_index: int = 0
    original_frame: np.ndarray | None = None
    keyframes: list[Keyframe] = field(default_factory=list)


# --- saving -------------------------------------------------------------------------


def _write_png(array: np.ndarray, mode: str, path: Path) -> None:
    """Encode, then replace ``path`` atomically: an edit rewritten while a reader (a crash
    restore, the autosave's own check) opens it never shows a half-written PNG."""
    from engine.video import write_bytes_atomic

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).convert(_PNG_MODES[mode]).save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())


def _content_name(array: np.ndarray, mode: str, stem: str) -> str:
    """An asset's name from its content (mode, shape and pixels): equal content, equal name."""
    digest = hashlib.blake2b(f"{mode}{array.shape}{array.dtype}".encode(), digest_size=12)
    digest.update(np.ascontiguousarray(array).data)
    return f"{ASSET_DIR}/{stem}_{digest.hexdigest()}.png"


def _assets_named_by(path: Path) -> set[str]:
    """The asset paths an edit JSON names (none when it is missing or unreadable)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith(f"{ASSET_DIR}/"):
            found.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(doc)
    return found


def save_edit(
    edit_spec: EditSpec | list[OpSpec | dict[str, Any]],
    folder: str | Path,
    name: str = "edit.json",
    *,
    content_named: bool = False,
) -> Path:
    """Write ``edit_spec`` to ``folder/name`` with its assets under ``folder/assets/``.

    The JSON is written last and atomically (temp file + rename), so a crash never
    leaves a JSON pointing at missing assets. Returns the JSON path.

    ``content_named``: for a folder rewritten after every change (the app's recovery
    copy). Assets are named by a hash of their content and one already in the folder is
    not encoded again; a changed asset gets a new name, so the previous JSON keeps naming
    complete files until the new one replaces it; this edit's assets that neither the new
    JSON nor the one it replaced names are removed after it is written.
    """
    spec = edit_spec if isinstance(edit_spec, EditSpec) else EditSpec(operations=list(edit_spec))
    if "/" in name or "\\" in name or not name.endswith(".json"):
        raise ValueError(f"name must be a plain file name ending in .json, got {name!r}")
    folder = Path(folder)
    (folder / ASSET_DIR).mkdir(parents=True, exist_ok=True)
    stem = name[: -len(".json")]
    named: set[str] = set()
    previous = _assets_named_by(folder / name) if content_named else set()

    def asset(array: np.ndarray, mode: str, rel: str) -> str:
        if content_named:
            rel = _content_name(array, mode, stem)
            named.add(rel)
            if (folder / rel).is_file():
                return rel  # the same content is there already
        named.add(rel)
        _write_png(array, mode, folder / rel)
        return rel

    doc: dict[str, Any] = {
        "format": FORMAT,
        # The lowest version that holds the content: an edit without keyframes stays readable by version-1 readers.
        "version": VERSION if spec.keyframes else 1,
        "frame_size": None if spec.frame_size is None else [int(v) for v in spec.frame_size],
        "source": spec.source,
        "frame_index": int(spec.frame_index),
        "original_frame": None,
        "operations": [],
    }
    if spec.original_frame is not None:
        doc["original_frame"] = asset(spec.original_frame, "RGB", f"{ASSET_DIR}/{stem}_frame.png")
        h, w = spec.original_frame.shape[:2]
        doc["frame_size"] = doc["frame_size"] or [w, h]
    for i, item in enumerate(spec.operations):
        op = as_spec(item, i)
        entry = {}
        for key, value in spec_to_dict(op).items():
            if key in op.ASSETS:
                if value is None:
                    entry[key] = None
                    continue
                entry[key] = asset(value, op.ASSETS[key], f"{ASSET_DIR}/{stem}_op{i:02d}_{key}.png")
            else:
                entry[key] = list(value) if isinstance(value, tuple) else value
        doc["operations"].append(entry)
    if spec.keyframes:
        doc["keyframes"] = [_save_keyframe(k, asset, stem) for k in sorted(spec.keyframes, key=lambda k: k.frame)]
    text = json.dumps(doc, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    target = folder / name
    os.replace(tmp, target)
    if content_named:  # the previous JSON's assets stay one more round: a reader that opened it finds them
        for old in (folder / ASSET_DIR).glob(f"{stem}_*.png"):
            if f"{ASSET_DIR}/{old.name}" not in named | previous:
                old.unlink(missing_ok=True)
    else:  # assets of a deleted operation or keyframe, in this edit's own naming, go once the JSON no longer names them
        own = re.compile(rf"{re.escape(stem)}_(frame|op\d{{2}}_[a-z_]+|kf\d{{4}}_(op\d{{2}}|frame))\.png")
        for old in (folder / ASSET_DIR).glob(f"{stem}_*.png"):
            if own.fullmatch(old.name) and f"{ASSET_DIR}/{old.name}" not in named:
                old.unlink(missing_ok=True)
    return target


def _save_keyframe(keyframe: Keyframe, asset: Callable[[np.ndarray, str, str], str], stem: str) -> dict[str, Any]:
    """One ``keyframes`` entry; its masks and edited frame written as PNG assets through ``asset``."""
    tag = f"{stem}_kf{keyframe.frame:04d}"
    masks = {
        str(index): asset(mask, "L", f"{ASSET_DIR}/{tag}_op{index:02d}.png") for index, mask in sorted(keyframe.masks.items())
    }
    edited = None
    if keyframe.edited_frame is not None:
        edited = asset(keyframe.edited_frame, "RGB", f"{ASSET_DIR}/{tag}_frame.png")
    return {"frame": int(keyframe.frame), "masks": masks, "edited_frame": edited}


# --- loading ------------------------------------------------------------------------


def resolve_asset(folder: Path, rel: Any, where: str) -> Path:
    """The asset path ``rel`` inside ``folder``, refusing anything that leaves it (see engine/safe_paths.py)."""
    return contained(folder, rel, where, suffixes=(".png",), root_name="the edit's folder", error=EditFileError)


def _read_png(path: Path, mode: str, where: str) -> np.ndarray:
    """A fully verified PNG (chunk CRCs, complete image data, size from the header before decoding)."""
    return read_png(path, _PNG_MODES[mode], where, error=EditFileError)


def _check_int_pair(value: Any, where: str) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise EditFileError(f"{where} must be [width, height] of positive integers, got {value!r}")
    return int(value[0]), int(value[1])


def parse_edit(doc: Any, folder: str | Path) -> EditSpec:
    """Validate a decoded edit document and load its assets from ``folder``."""
    folder = Path(folder)
    if not isinstance(doc, dict):
        raise EditFileError(f"the edit file must hold a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise EditFileError(f"format must be {FORMAT!r}, got {doc.get('format')!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EditFileError(f"version must be a positive integer, got {version!r}")
    if version > VERSION:
        raise EditFileError(f"version {version} was written by a newer GenProp (this one reads up to {VERSION})")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise EditFileError(f"unknown top-level field(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    frame_size = None if doc.get("frame_size") is None else _check_int_pair(doc["frame_size"], "frame_size")
    if frame_size is not None:
        try:
            check_canvas(*frame_size, "frame_size")
        except ValueError as exc:
            raise EditFileError(str(exc)) from None
    source = doc.get("source")
    if source is not None and not isinstance(source, str):
        raise EditFileError(f"source must be a string or null, got {source!r}")
    frame_index = doc.get("frame_index", 0)
    if not isinstance(frame_index, int) or isinstance(frame_index, bool) or frame_index < 0:
        raise EditFileError(f"frame_index must be a non-negative integer, got {frame_index!r}")
    original = None
    if doc.get("original_frame") is not None:
        original = _read_png(resolve_asset(folder, doc["original_frame"], "original_frame"), "RGB", "original_frame")
        size = (original.shape[1], original.shape[0])
        if frame_size is not None and size != frame_size:
            raise EditFileError(f"original_frame is {size[0]}x{size[1]} but frame_size says {frame_size[0]}x{frame_size[1]}")
        frame_size = size
    ops_doc = doc.get("operations")
    if not isinstance(ops_doc, list):
        raise EditFileError(f"operations must be a list, got {ops_doc!r}")
    if len(ops_doc) > MAX_OPERATIONS:
        raise EditFileError(f"the edit has {len(ops_doc)} operations; at most {MAX_OPERATIONS} are allowed")
    classes = spec_classes()
    operations = []
    asset_bytes = 0 if original is None else original.nbytes
    for i, entry in enumerate(ops_doc):
        where = f"operations[{i}]"
        if not isinstance(entry, dict):
            raise EditFileError(f"{where} must be an object, got {entry!r}")
        op = entry.get("op")
        cls = classes.get(op) if isinstance(op, str) else None
        if cls is None:
            raise EditFileError(f"{where}.op must be one of {sorted(classes)}, got {entry.get('op')!r}")
        data = dict(entry)
        for key, mode in cls.ASSETS.items():
            if data.get(key) is not None:
                data[key] = _read_png(resolve_asset(folder, data[key], f"{where}.{key}"), mode, f"{where}.{key}")
                asset_bytes += data[key].nbytes
                if asset_bytes > MAX_ASSET_BYTES:
                    raise EditFileError(f"{where}.{key}: the edit's images exceed {MAX_ASSET_BYTES >> 20} MB in total; refused")
        try:
            operations.append(spec_from_dict(data))
        except (TypeError, ValueError) as exc:
            raise EditFileError(f"{where} ({entry['op']}): {exc}") from None
    keyframes_doc = doc.get("keyframes", [])
    if version < 2 and "keyframes" in doc:
        raise EditFileError(f"keyframes need version 2 or later; this file says version {version}")
    keyframes, asset_bytes = _parse_keyframes(keyframes_doc, folder, len(operations), asset_bytes)
    return EditSpec(operations, frame_size, source, frame_index, original, keyframes)


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_keyframes(items: Any, folder: Path, n_ops: int, asset_bytes: int) -> tuple[list[Keyframe], int]:
    """The ``keyframes`` list: each entry checked field by field, its PNGs read under the asset cap."""
    if not isinstance(items, list):
        raise EditFileError(f"keyframes must be a list, got {items!r}")
    if len(items) > MAX_KEYFRAMES:
        raise EditFileError(f"the edit has {len(items)} keyframes; at most {MAX_KEYFRAMES} are allowed")
    out: list[Keyframe] = []
    seen: set[int] = set()
    for i, entry in enumerate(items):
        where = f"keyframes[{i}]"
        if not isinstance(entry, dict):
            raise EditFileError(f"{where} must be an object, got {entry!r}")
        unknown = sorted(set(entry) - _KEYFRAME_KEYS)
        if unknown:
            raise EditFileError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_KEYFRAME_KEYS)}")
        frame = entry.get("frame")
        if not _is_index(frame) or frame < 1:
            raise EditFileError(f"{where}.frame must be an integer >= 1 (frame 0 is the first-frame edit), got {frame!r}")
        if frame in seen:
            raise EditFileError(f"{where}.frame: two keyframes on frame {frame}")
        seen.add(frame)
        masks_doc = entry.get("masks", {})
        if not isinstance(masks_doc, dict):
            raise EditFileError(f"{where}.masks must be an object (operation index -> PNG path), got {masks_doc!r}")
        masks: dict[int, np.ndarray] = {}
        for key, rel in masks_doc.items():
            field_where = f"{where}.masks[{json.dumps(key)}]"
            if not (isinstance(key, str) and key.isdigit() and key.isascii() and len(key) <= 3):
                raise EditFileError(f'{field_where}: the key must be an operation index ("0", "1", ...)')
            index = int(key)
            if index >= n_ops:
                raise EditFileError(f"{field_where}: operation {index} does not exist (the edit has {n_ops})")
            if index in masks:
                raise EditFileError(f"{field_where}: operation {index} is given twice")
            mask = _read_png(resolve_asset(folder, rel, field_where), "L", field_where)
            asset_bytes = _count_asset(asset_bytes, mask, field_where)
            masks[index] = mask
        edited = None
        if entry.get("edited_frame") is not None:
            field_where = f"{where}.edited_frame"
            edited = _read_png(resolve_asset(folder, entry["edited_frame"], field_where), "RGB", field_where)
            asset_bytes = _count_asset(asset_bytes, edited, field_where)
        try:
            out.append(Keyframe(frame, masks, edited))
        except ValueError as exc:
            raise EditFileError(f"{where}: {exc}") from None
    return out, asset_bytes


def _count_asset(total: int, array: np.ndarray, where: str) -> int:
    total += array.nbytes
    if total > MAX_ASSET_BYTES:
        raise EditFileError(f"{where}: the edit's images exceed {MAX_ASSET_BYTES >> 20} MB in total; refused")
    return total


def load_edit(
    path: str | Path, original_frame: np.ndarray | None = None, *, frame_count: int | None = None
) -> tuple[EditSpec, FirstFrameEdit | None]:
    """Read an edit file; also apply it when a frame is given or stored in the file.

    The JSON is refused before it is decoded when it is not a regular file or larger than
    ``MAX_JSON_BYTES``; nesting, number sizes and operation counts are capped (engine/safe_paths.py).

    Args:
        path: the ``.json`` file.
        original_frame: ``[H, W, 3]`` uint8 frame 1 of the clip (wins over a stored one).
        frame_count: the clip's length, when known: ``frame_index`` and every keyframe must lie inside it.

    Returns:
        The validated spec and the composed ``FirstFrameEdit`` (``None`` when there is
        no frame to apply it to).

    Raises:
        EditFileError: what is wrong and where.
    """
    path = Path(path)
    doc = load_json(path, "edit file", max_bytes=MAX_JSON_BYTES, error=EditFileError)
    spec = parse_edit(doc, path.parent)
    if frame_count is not None and spec.frame_index >= frame_count:
        raise EditFileError(
            f"frame_index {spec.frame_index} is beyond the clip, which has {frame_count} frames (0..{frame_count - 1})"
        )
    if frame_count is not None:
        for i, k in enumerate(spec.keyframes):
            if k.frame >= frame_count:
                raise EditFileError(
                    f"keyframes[{i}].frame {k.frame} is beyond the clip, which has {frame_count} frames (0..{frame_count - 1})"
                )
    frame = original_frame if original_frame is not None else spec.original_frame
    if frame is None:
        return spec, None
    if spec.frame_size is not None and (frame.shape[1], frame.shape[0]) != spec.frame_size:
        raise EditFileError(
            f"the edit was made on a {spec.frame_size[0]}x{spec.frame_size[1]} frame but the given frame is "
            f"{frame.shape[1]}x{frame.shape[0]}"
        )
    try:
        edit = compose(frame, spec.operations)
    except (ValueError, TypeError, RuntimeError, MemoryError, cv2.error) as exc:
        # RuntimeError: an inpainting backend that cannot run (InpaintUnavailableError) or fails.
        raise EditFileError(str(exc) or type(exc).__name__) from None
    _check_keyframe_sizes(spec.keyframes, edit)
    edit.keyframes = check_keyframes(list(spec.keyframes), edit.operations, edit.edited_frame.shape[:2])
    return spec, edit


def _check_keyframe_sizes(keyframes: list[Keyframe], edit: FirstFrameEdit) -> None:
    """Each keyframe's masks at its operation's canvas size and its edited frame at the edited canvas's."""
    for i, k in enumerate(keyframes):
        for index, mask in k.masks.items():
            want = edit.operations[index].mask.shape
            if mask.shape != want:
                raise EditFileError(
                    f'keyframes[{i}].masks["{index}"] is {mask.shape[1]}x{mask.shape[0]} but operation {index}\'s canvas '
                    f"is {want[1]}x{want[0]}"
                )
        if k.edited_frame is not None and k.edited_frame.shape[:2] != edit.edited_frame.shape[:2]:
            h, w = edit.edited_frame.shape[:2]
            raise EditFileError(
                f"keyframes[{i}].edited_frame is {k.edited_frame.shape[1]}x{k.edited_frame.shape[0]} but the edited canvas is {w}x{h}"
            )


def spec_equal(a: OpSpec, b: OpSpec) -> bool:
    """Field-by-field equality of two specs (arrays compared by value)."""
    if type(a) is not type(b):
        return False
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and np.array_equal(x, y)):
                return False
        elif x != y:
            return False
    return True
