"""Hostile and broken inputs for the file formats a user can be sent, generated (issue 17).

Three formats: edit files (``edit.json`` + PNG assets), mask PNGs, and project folders
(``project.json`` + edit + results). For each there are hand-made cases (attacks and
accidents, each with the outcome it must have) and seeded random mutants of valid
files. :func:`run_case` loads one input the way the app does and classifies what
happened:

- ``accepted``: loaded, and the result is right (a mutated PNG that loads must decode to
  the original pixels: anything else is silent corruption);
- ``refused``: the loader's documented error, with a clear message (one line, short);
- ``crash`` (any other exception), ``hang`` (over ``HANG_SECONDS``), ``escape`` (a file
  outside the input's folder was opened, or anything was written), ``unclear`` (a
  refusal whose message is empty, multi-line or huge), ``wrong`` (accepted but wrong,
  or accepted when it had to be refused and vice versa).

Used by ``tests/test_fuzz_inputs.py`` (a few hundred inputs, a few seconds) and by
``python -m tests.fuzz_corpus --mutants N`` (the figures in docs/robustness.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import struct
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HANG_SECONDS = 10.0
FRAME_W, FRAME_H, CLIP_FRAMES = 32, 24, 90
MAX_MESSAGE = 500
FORMATS = ("edit", "png", "project")
OPTIONAL_FORMATS = ("clip",)  # random mutants of real clips: run by the script (--clips N), not by default


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One input: ``build(folder)`` makes it inside ``folder`` and returns the path to load."""

    format: str
    name: str
    build: Callable[[Path], Path]
    expect: str = "refuse"  # "accept", "refuse" or "either"
    original: np.ndarray | None = None  # PNG cases: the pixels an accepted file must decode to
    folder: str | None = None  # mutants of one format share a folder (only the JSON changes)


@dataclass(frozen=True)
class Outcome:
    format: str
    name: str
    kind: str
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind in ("accepted", "refused")


def frame() -> np.ndarray:
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W]
    return np.dstack([(xx * 8) % 256, (yy * 10) % 256, np.full_like(xx, 90)]).astype(np.uint8)


def _mask(x0: int = 8, y0: int = 6, x1: int = 20, y1: int = 16, size: tuple[int, int] = (FRAME_W, FRAME_H)) -> np.ndarray:
    m = np.zeros((size[1], size[0]), np.uint8)
    m[y0:y1, x0:x1] = 255
    return m


def png_bytes(image: np.ndarray, **save: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", **save)
    return buf.getvalue()


def chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos + 12 <= len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(t, b) for t, b in parts)


def header_only_png(width: int, height: int) -> bytes:
    """A valid-CRC PNG whose header claims ``width x height`` (tiny on disk)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return assemble([(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\x00" * 64)), (b"IEND", b"")])


# ----------------------------------------------------------------------------- the edit format
EDIT_ASSETS = {
    "assets/m0.png": _mask(),
    "assets/m1.png": _mask(2, 2, 12, 10),
    "assets/layer.png": np.dstack([np.full((8, 8, 3), 200, np.uint8), _mask(0, 0, 6, 6, (8, 8))]),
}


def valid_edit_doc() -> dict[str, Any]:
    return {
        "format": "genprop-edit",
        "version": 1,
        "frame_size": [FRAME_W, FRAME_H],
        "source": "clip.mp4",
        "frame_index": 0,
        "original_frame": None,
        "operations": [
            {"op": "remove", "mask": "assets/m0.png", "method": "telea", "dilate": 2.0, "radius": 3.0},
            {"op": "recolour", "mask": "assets/m1.png", "mode": "adjust", "hue_shift": 90.0, "saturation": 1.2},
            {"op": "insert", "layer": "assets/layer.png", "x": 10.0, "y": 8.0, "scale": 1.5, "rotation": 30.0},
            {"op": "track", "mask": "assets/m1.png", "colour": [0, 255, 0], "opacity": 0.5},
            {"op": "outpaint", "left": 4, "top": 0, "right": 4, "bottom": 2, "method": "reflect"},
        ],
    }


_ASSET_BYTES: dict[str, bytes] = {}


def write_edit_folder(folder: Path, doc: dict[str, Any] | str | bytes | None = None) -> Path:
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    for rel, image in EDIT_ASSETS.items():
        if not (folder / rel).exists():
            if rel not in _ASSET_BYTES:
                _ASSET_BYTES[rel] = png_bytes(image)
            (folder / rel).write_bytes(_ASSET_BYTES[rel])
    path = folder / "edit.json"
    doc = valid_edit_doc() if doc is None else doc
    data = doc if isinstance(doc, bytes) else (doc if isinstance(doc, str) else json.dumps(doc)).encode("utf-8")
    if path.exists() or path.is_symlink():
        path.unlink()
    path.write_bytes(data)
    return path


def _edit_with(mutate: Callable[[dict[str, Any]], Any]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        doc = valid_edit_doc()
        result = mutate(doc)
        return write_edit_folder(folder, doc if result is None else result)

    return build


def _op(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["operations"][index].update(fields)

    return mutate


def _asset_case(rel: str, make: Callable[[Path, Path], None], key: str = "mask") -> Callable[[Path], Path]:
    """An edit whose first op's ``key`` names ``rel``, made by ``make(target, folder)``."""

    def build(folder: Path) -> Path:
        path = write_edit_folder(folder, _with_first_op(key, rel))
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        make(target, folder)
        return path

    return build


def _with_first_op(key: str, rel: str) -> dict[str, Any]:
    doc = valid_edit_doc()
    doc["operations"][0][key] = rel
    return doc


def _outside(folder: Path) -> Path:
    """A real file outside the input's folder (what an escape would read)."""
    secret = folder.parent / f"{folder.name}-outside" / "secret.png"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(png_bytes(_mask()))
    return secret


def _top_level(make: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        write_edit_folder(folder)
        path = folder / "edit.json"
        path.unlink()
        make(path)
        return path

    return build


def edit_cases() -> list[Case]:
    deep = "[" * 100_000 + "]" * 100_000
    c: list[tuple[str, Callable[[Path], Path], str]] = [
        ("valid edit", _edit_with(lambda d: None), "accept"),
        ("valid with BOM", lambda f: write_edit_folder(f, b"\xef\xbb\xbf" + json.dumps(valid_edit_doc()).encode()), "accept"),
        ("empty file", lambda f: write_edit_folder(f, b""), "refuse"),
        ("not JSON", lambda f: write_edit_folder(f, b"{'format': genprop"), "refuse"),
        ("not UTF-8", lambda f: write_edit_folder(f, b'{"format": "\xff\xfe"}'), "refuse"),
        ("top level is a list", lambda f: write_edit_folder(f, "[1, 2]"), "refuse"),
        ("deeply nested (100k levels)", lambda f: write_edit_folder(f, deep), "refuse"),
        ("nested 40 levels in options", _edit_with(_op(0, options=json.loads('{"a":' * 40 + "1" + "}" * 40))), "refuse"),
        (
            "5,001-digit number",
            lambda f: write_edit_folder(f, json.dumps(valid_edit_doc()).replace('"dilate": 2.0', '"dilate": ' + "9" * 5001)),
            "refuse",
        ),
        (
            "1e400 number",
            lambda f: write_edit_folder(f, json.dumps(valid_edit_doc()).replace('"dilate": 2.0', '"dilate": 1e400')),
            "refuse",
        ),
        ("NaN", lambda f: write_edit_folder(f, json.dumps(valid_edit_doc()).replace('"dilate": 2.0', '"dilate": NaN')), "refuse"),
        (
            "Infinity",
            lambda f: write_edit_folder(f, json.dumps(valid_edit_doc()).replace('"radius": 3.0', '"radius": -Infinity')),
            "refuse",
        ),
        ("1 GB file (sparse)", _top_level(lambda p: os.truncate(_touch(p), 1 << 30)), "refuse"),
        ("9 MB file", lambda f: write_edit_folder(f, json.dumps(valid_edit_doc()) + " " * (9 << 20)), "refuse"),
        ("edit.json is a FIFO", _top_level(lambda p: os.mkfifo(p)), "refuse"),
        ("edit.json is a folder", _top_level(lambda p: p.mkdir()), "refuse"),
        ("edit.json links to /dev/zero", _top_level(lambda p: os.symlink("/dev/zero", p)), "refuse"),
        ("10,000 operations", _edit_with(lambda d: d.update(operations=d["operations"][:1] * 10_000)), "refuse"),
        ("101 operations", _edit_with(lambda d: d.update(operations=d["operations"][3:4] * 101)), "refuse"),
        ("unknown top-level field", _edit_with(lambda d: d.update(colour=1)), "refuse"),
        ("wrong format", _edit_with(lambda d: d.update(format="genprop-project")), "refuse"),
        ("newer version", _edit_with(lambda d: d.update(version=99)), "refuse"),
        ("version as string", _edit_with(lambda d: d.update(version="1")), "refuse"),
        ("frame_index beyond the clip", _edit_with(lambda d: d.update(frame_index=5000)), "refuse"),
        ("negative frame_index", _edit_with(lambda d: d.update(frame_index=-1)), "refuse"),
        ("frame_size 13000x13000", _edit_with(lambda d: d.update(frame_size=[13000, 13000])), "refuse"),
        ("frame_size of another clip", _edit_with(lambda d: d.update(frame_size=[64, 48])), "refuse"),
        ("absolute mask path", _edit_with(_op(0, mask="/etc/passwd")), "refuse"),
        ("'..' mask path", _edit_with(_op(0, mask="../secret.png")), "refuse"),
        ("'..' inside the folder", _edit_with(_op(0, mask="assets/../assets/m0.png")), "accept"),
        ("backslash path", _edit_with(_op(0, mask="assets\\m0.png")), "refuse"),
        ("drive path", _edit_with(_op(0, mask="C:/m0.png")), "refuse"),
        ("home path", _edit_with(_op(0, mask="~/m0.png")), "refuse"),
        ("NUL in path", _edit_with(_op(0, mask="assets/m0.png\x00.png")), "refuse"),
        ("mask symlink leaving the folder", _asset_case("assets/link.png", lambda t, f: os.symlink(_outside(f), t)), "refuse"),
        ("mask symlink to /dev/zero", _asset_case("assets/zero.png", lambda t, f: os.symlink("/dev/zero", t)), "refuse"),
        ("mask symlink loop", _asset_case("assets/loop.png", lambda t, f: os.symlink(t, t)), "refuse"),
        ("mask is a FIFO", _asset_case("assets/fifo.png", lambda t, f: os.mkfifo(t)), "refuse"),
        ("mask is a folder", _asset_case("assets/dir.png", lambda t, f: t.mkdir()), "refuse"),
        (
            "mask header says 13000x13000",
            _asset_case("assets/big.png", lambda t, f: t.write_bytes(header_only_png(13000, 13000))),
            "refuse",
        ),
        (
            "mask with a corrupt IDAT",
            _asset_case("assets/bad.png", lambda t, f: t.write_bytes(_flip(png_bytes(_mask()), -20))),
            "refuse",
        ),
        ("mask with a broken chunk", _asset_case("assets/bad.png", lambda t, f: t.write_bytes(_broken_text_chunk())), "refuse"),
        ("truncated mask", _asset_case("assets/cut.png", lambda t, f: t.write_bytes(png_bytes(_mask())[:-30])), "refuse"),
        ("JPEG named .png", _asset_case("assets/j.png", lambda t, f: t.write_bytes(_jpeg())), "refuse"),
        (
            "mask of another size",
            _asset_case("assets/s.png", lambda t, f: t.write_bytes(png_bytes(_mask(size=(16, 12))))),
            "refuse",
        ),
        (
            "empty mask",
            _asset_case("assets/e.png", lambda t, f: t.write_bytes(png_bytes(np.zeros((FRAME_H, FRAME_W), np.uint8)))),
            "refuse",
        ),
        ("mask not .png", _edit_with(_op(0, mask="assets/m0.jpg")), "refuse"),
        ("missing mask", _edit_with(_op(0, mask="assets/none.png")), "refuse"),
        ("dilate 1e9", _edit_with(_op(0, dilate=1e9)), "refuse"),
        ("radius 1e6", _edit_with(_op(0, radius=1e6)), "refuse"),
        ("feather 1e9", _edit_with(_op(1, feather=1e9)), "refuse"),
        ("saturation 1e308", _edit_with(_op(1, saturation=1e308)), "refuse"),
        ("hue_shift 1e300", _edit_with(_op(1, hue_shift=1e300)), "refuse"),
        ("target_rgb out of range", _edit_with(_op(1, mode="target", target_rgb=[300, 0, 0])), "refuse"),
        ("scale 1e9", _edit_with(_op(2, scale=1e9)), "refuse"),
        ("rotation 1e308", _edit_with(_op(2, rotation=1e308)), "refuse"),
        ("x 1e20", _edit_with(_op(2, x=1e20)), "refuse"),
        ("opacity 2", _edit_with(_op(3, opacity=2)), "refuse"),
        ("outpaint margins 1e12", _edit_with(_op(4, left=10**12)), "refuse"),
        ("outpaint 200,000 px", _edit_with(_op(4, right=200_000)), "refuse"),
        ("outpaint aspect 1e400:1", _edit_with(_op(4, aspect="1" + "0" * 400 + ":1")), "refuse"),
        ("outpaint aspect 1000:1", _edit_with(_op(4, aspect="1000:1")), "refuse"),
        ("unavailable diffusers model", _edit_with(_op(0, method="diffusers", options={"model": "no/such-model"})), "refuse"),
        ("diffusers model index is a string", _diffusers_string_index, "refuse"),
        ("unknown op", _edit_with(_op(0, op="frobnicate")), "refuse"),
        ("op is an object", _edit_with(_op(0, op={"name": "remove"})), "refuse"),
        ("method is a list", _edit_with(_op(0, method=["telea"])), "refuse"),
        ("operation not an object", _edit_with(lambda d: d.update(operations=["remove"])), "refuse"),
        ("5 MB source string", _edit_with(lambda d: d.update(source="x" * (5 << 20))), "accept"),
        ("bool as number", _edit_with(_op(0, dilate=True)), "refuse"),
    ]
    return [Case("edit", name, build, expect) for name, build, expect in c]


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _flip(data: bytes, offset: int) -> bytes:
    b = bytearray(data)
    b[offset] ^= 0x40
    return bytes(b)


def _broken_text_chunk() -> bytes:
    parts = chunks_of(png_bytes(_mask()))
    text = chunk(b"tEXt", b"Comment\x00hello")
    bad = text[:-1] + bytes([text[-1] ^ 1])  # CRC off by one bit
    first = assemble(parts[:1])
    return first + bad + assemble(parts[1:])[8:]


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_mask()).save(buf, format="JPEG")
    return buf.getvalue()


def _diffusers_string_index(folder: Path) -> Path:
    model = folder / "inpaint_model"
    model.mkdir(parents=True)
    (model / "model_index.json").write_text('"runwayml/stable-diffusion-inpainting"')
    doc = valid_edit_doc()
    doc["operations"][0].update(method="diffusers", options={"model": str(model)})
    return write_edit_folder(folder, doc)


# ----------------------------------------------------------------------------- the PNG format
def png_bases() -> dict[str, tuple[bytes, np.ndarray]]:
    """Valid PNGs of every kind a mask or layer can be, with the pixels each decodes to (L)."""
    rng = np.random.default_rng(7)
    grey = (rng.random((FRAME_H, FRAME_W)) * 255).astype(np.uint8)
    rgb = (rng.random((12, 20, 3)) * 255).astype(np.uint8)
    from PIL import Image

    def as_l(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("L")).copy()

    items = {
        "mask": png_bytes(_mask()),
        "grey noise": png_bytes(grey),
        "interlaced": png_bytes(grey, interlace=1),
        "rgb": png_bytes(rgb),
        "rgba": png_bytes(np.dstack([rgb, rgb[..., 0]])),
        "16-bit": png_bytes(grey.astype(np.uint16) * 257),
        "1-bit": png_bytes(grey > 127),
        "palette": png_bytes(rgb, bits=8) if False else _palette_png(rgb),
    }
    return {k: (v, as_l(v)) for k, v in items.items()}


def _palette_png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(buf, format="PNG")
    return buf.getvalue()


def _png_file(data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "mask.png"
        path.write_bytes(data)
        return path

    return build


def _png_special(make: Callable[[Path, Path], None]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "mask.png"
        make(path, folder)
        return path

    return build


def _zip_bomb() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    return assemble([(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\x00" * (64 << 20), 9)), (b"IEND", b"")])


def _idat_recrc(data: bytes, where: int) -> bytes:
    """Flip a byte inside the image data and fix the chunk's CRC (only the inflate check can tell)."""
    parts = chunks_of(data)
    i = next(k for k, (t, _) in enumerate(parts) if t == b"IDAT")
    body = bytearray(parts[i][1])
    body[where % len(body)] ^= 0x10
    parts[i] = (b"IDAT", bytes(body))
    return assemble(parts)


def png_cases() -> list[Case]:
    bases = png_bases()
    mask, mask_px = bases["mask"]
    parts = chunks_of(mask)
    ihdr = parts[0][1]

    def with_ihdr(**k: int) -> bytes:
        w, h, depth, colour, comp, filt, inter = struct.unpack(">IIBBBBB", ihdr)
        vals = dict(w=w, h=h, depth=depth, colour=colour, comp=comp, filt=filt, inter=inter) | k
        new = struct.pack(">IIBBBBB", *vals.values())
        return assemble([(b"IHDR", new), *parts[1:]])

    idat = [b for t, b in parts if t == b"IDAT"][0]
    raw = zlib.decompress(idat)
    c: list[tuple[str, bytes | Callable[[Path], Path], str]] = [
        *[(f"valid {name}", data, "accept") for name, (data, _) in bases.items()],
        (
            "IDAT split in 1-byte chunks",
            assemble([parts[0], *[(b"IDAT", idat[i : i + 1]) for i in range(len(idat))], (b"IEND", b"")]),
            "accept",
        ),
        ("ancillary text chunk", assemble([parts[0], (b"tEXt", b"k\x00v"), *parts[1:]]), "accept"),
        ("0 bytes", b"", "refuse"),
        ("signature only", mask[:8], "refuse"),
        ("wrong signature", b"\x89PNG\r\n\x1a\x0a"[:7] + b"X" + mask[8:], "refuse"),
        ("truncated in IHDR", mask[:20], "refuse"),
        ("truncated in IDAT", mask[: len(mask) - 20], "refuse"),
        ("no IEND", mask[:-12], "refuse"),
        ("garbage after IEND", mask + b"garbage", "refuse"),
        ("IHDR CRC broken", _flip(mask, 29), "refuse"),
        ("IDAT CRC broken", _flip(mask, len(mask) - 16), "refuse"),
        ("IDAT data corrupt, CRC fixed", _idat_recrc(mask, 5), "refuse"),
        ("IDAT data corrupt near the end, CRC fixed", _idat_recrc(mask, -3), "refuse"),
        ("broken ancillary chunk", _broken_text_chunk(), "refuse"),
        ("no IDAT", assemble([parts[0], (b"IEND", b"")]), "refuse"),
        ("two IHDR", assemble([parts[0], parts[0], *parts[1:]]), "refuse"),
        (
            "IDAT not consecutive",
            assemble([parts[0], (b"IDAT", idat[:10]), (b"tEXt", b"a\x00b"), (b"IDAT", idat[10:]), (b"IEND", b"")]),
            "refuse",
        ),
        ("zero width", with_ihdr(w=0), "refuse"),
        ("13000x13000 header", header_only_png(13000, 13000), "refuse"),
        ("100000x1 header", header_only_png(100000, 1), "refuse"),
        ("bit depth 3", with_ihdr(depth=3), "refuse"),
        ("colour type 5", with_ihdr(colour=5), "refuse"),
        ("interlace method 2", with_ihdr(inter=2), "refuse"),
        ("compression method 1", with_ihdr(comp=1), "refuse"),
        ("image data too short", assemble([parts[0], (b"IDAT", zlib.compress(raw[:-5])), (b"IEND", b"")]), "refuse"),
        ("image data too long", assemble([parts[0], (b"IDAT", zlib.compress(raw + b"\x00" * 50)), (b"IEND", b"")]), "refuse"),
        ("zip bomb (64 MB of zeros)", _zip_bomb(), "refuse"),
        ("bad row filter 7", assemble([parts[0], (b"IDAT", zlib.compress(b"\x07" + raw[1:])), (b"IEND", b"")]), "refuse"),
        ("zlib stream unterminated", assemble([parts[0], (b"IDAT", zlib.compress(raw)[:-4]), (b"IEND", b"")]), "refuse"),
        ("palette image without PLTE", assemble([c for c in chunks_of(bases["palette"][0]) if c[0] != b"PLTE"]), "refuse"),
        ("a JPEG", _jpeg(), "refuse"),
        ("a FIFO", _png_special(lambda p, f: os.mkfifo(p)), "refuse"),
        ("a folder", _png_special(lambda p, f: p.mkdir()), "refuse"),
        ("a link to /dev/zero", _png_special(lambda p, f: os.symlink("/dev/zero", p)), "refuse"),
        ("1 GB sparse file", _png_special(lambda p, f: os.truncate(_touch(p), 1 << 30)), "refuse"),
    ]
    cases = []
    for name, item, expect in c:
        build = item if callable(item) else _png_file(item)
        original = None
        if name.startswith("valid "):
            original = bases[name[len("valid ") :]][1]
        elif expect == "accept":
            original = mask_px
        cases.append(Case("png", name, build, expect, original))
    return cases


# ----------------------------------------------------------------------------- the project format
def write_project(folder: Path) -> Path:
    """A valid project with one saved result (3 frames), built once and copied."""
    from app.project import Project
    from engine.edits import RemoveSpec
    from engine.engines.base import PropagationResult

    project = Project()
    project.add_operation(RemoveSpec(mask=_mask()))
    frames = np.stack([frame()] * 3)
    project.add_result(PropagationResult(frames=frames, masks=np.stack([_mask()] * 3), fps=10.0, engine="classic"), "A")
    project.results[-1].key = "00"  # the cases below name its folder results/00
    project.save(folder)
    return folder / "project.json"


def _project(mutate: Callable[[Path, dict[str, Any]], Any], base: Path) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        if not folder.exists():
            shutil.copytree(base, folder, symlinks=True)
        path = folder / "project.json"
        doc = json.loads((base / "project.json").read_text())
        result = mutate(folder, doc)
        if result is None:
            path.write_text(json.dumps(doc))
        elif result is KEEP:
            pass
        elif isinstance(result, (str, bytes)):
            path.write_bytes(result if isinstance(result, bytes) else result.encode())
        return path

    return build


KEEP = object()  # a project mutation that already made project.json itself


def _replace(folder: Path, rel: str, make: Callable[[Path], None]) -> None:
    target = folder / rel
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    make(target)


def project_cases(base: Path) -> list[Case]:
    res = "results/00"
    outside = base.parent / "project-outside"
    if not outside.exists():
        outside.mkdir()
        shutil.copytree(base / res, outside / "00")
        (outside / "secret.txt").write_text("root:x:0:0")

    frame = f"{res}/frames/frame_000000.png"  # the result store's layout: one lossless PNG per frame

    def concat_script(t: Path) -> None:
        t.write_text(f"ffconcat version 1.0\nfile '{outside / '00' / 'frames' / 'frame_000000.png'}'\n")

    c: list[tuple[str, Callable[[Path, dict[str, Any]], Any], str]] = [
        ("valid project", lambda f, d: None, "accept"),
        ("no results", lambda f, d: d.update(results=[]), "accept"),
        ("results is a number", lambda f, d: d.update(results=5), "refuse"),
        ("results is a string", lambda f, d: d.update(results="results/00"), "refuse"),
        ("results is an object", lambda f, d: d.update(results={"folder": res}), "refuse"),
        ("result entry is a string", lambda f, d: d.update(results=[res]), "refuse"),
        ("result without folder", lambda f, d: d["results"][0].pop("folder"), "refuse"),
        ("result folder is a number", lambda f, d: d["results"][0].update(folder=1), "refuse"),
        ("result folder absolute", lambda f, d: d["results"][0].update(folder=str(outside / "00")), "refuse"),
        ("result folder '..'", lambda f, d: d["results"][0].update(folder="../project-outside/00"), "refuse"),
        ("result folder missing", lambda f, d: d["results"][0].update(folder="results/99"), "refuse"),
        ("result name not a string", lambda f, d: d["results"][0].update(name=["x"]), "refuse"),
        ("unknown result field", lambda f, d: d["results"][0].update(extra=1), "refuse"),
        ("65 results", lambda f, d: d.update(results=d["results"] * 65), "refuse"),
        ("a frame links to /etc/passwd", lambda f, d: _replace(f, frame, lambda t: os.symlink("/etc/passwd", t)), "refuse"),
        (
            "a frame links outside",
            lambda f, d: _replace(f, frame, lambda t: os.symlink(outside / "00" / "frames" / "frame_000000.png", t)),
            "refuse",
        ),
        ("a frame is a FIFO", lambda f, d: _replace(f, frame, lambda t: os.mkfifo(t)), "refuse"),
        ("a frame is a folder", lambda f, d: _replace(f, frame, lambda t: t.mkdir()), "refuse"),
        ("a frame is an ffconcat script", lambda f, d: _replace(f, frame, concat_script), "refuse"),
        ("a frame truncated", lambda f, d: _truncate(f / frame, 0.5), "refuse"),
        ("a frame empty", lambda f, d: _truncate(f / frame, 0.0), "refuse"),
        ("a frame missing", lambda f, d: (f / frame).unlink(), "refuse"),
        (
            "frames links outside",
            lambda f, d: _replace(f, f"{res}/frames", lambda t: os.symlink(outside / "00" / "frames", t)),
            "refuse",
        ),
        ("store.json not JSON", lambda f, d: (f / res / "store.json").write_text("{not json"), "refuse"),
        (
            "store.json links outside",
            lambda f, d: _replace(f, f"{res}/store.json", lambda t: os.symlink(outside / "00" / "store.json", t)),
            "refuse",
        ),
        ("results folder links outside", lambda f, d: _replace(f, res, lambda t: os.symlink(outside / "00", t)), "refuse"),
        (
            "masks links outside",
            lambda f, d: _replace(f, f"{res}/masks", lambda t: os.symlink(outside / "00" / "masks", t)),
            "refuse",
        ),
        (
            "a mask links outside",
            lambda f, d: _replace(
                f, f"{res}/masks/mask_000000.png", lambda t: os.symlink(outside / "00" / "masks" / "mask_000000.png", t)
            ),
            "refuse",
        ),
        ("a mask is a FIFO", lambda f, d: _replace(f, f"{res}/masks/mask_000001.png", lambda t: os.mkfifo(t)), "refuse"),
        ("a mask missing", lambda f, d: (f / res / "masks" / "mask_000002.png").unlink(), "refuse"),
        (
            "a mask corrupt",
            lambda f, d: (f / res / "masks" / "mask_000001.png").write_bytes(_flip(png_bytes(_mask()), -20)),
            "refuse",
        ),
        (
            "masks of another size",
            lambda f, d: (f / res / "masks" / "mask_000001.png").write_bytes(png_bytes(_mask(size=(8, 8)))),
            "refuse",
        ),
        ("masks is a file", lambda f, d: _replace(f, f"{res}/masks", lambda t: t.write_bytes(b"x")), "refuse"),
        ("edit missing", lambda f, d: (f / "edit.json").unlink(), "refuse"),
        ("edit links outside", lambda f, d: _replace(f, "edit.json", lambda t: os.symlink(outside / "secret.txt", t)), "refuse"),
        ("edit is a FIFO", lambda f, d: _replace(f, "edit.json", lambda t: os.mkfifo(t)), "refuse"),
        ("edit path absolute", lambda f, d: d.update(edit="/etc/passwd"), "refuse"),
        ("edit path '..'", lambda f, d: d.update(edit="../project-outside/secret.txt"), "refuse"),
        ("project.json is a FIFO", lambda f, d: _replace(f, "project.json", lambda t: os.mkfifo(t)) or KEEP, "refuse"),
        ("project.json 1 GB (sparse)", lambda f, d: os.truncate(f / "project.json", 1 << 30) or KEEP, "refuse"),
        ("project.json deeply nested", lambda f, d: "[" * 100_000 + "]" * 100_000, "refuse"),
        (
            "project.json 5,001-digit version",
            lambda f, d: json.dumps(d).replace('"version": 1', '"version": ' + "1" * 5001),
            "refuse",
        ),
        ("project.json not JSON", lambda f, d: "{project", "refuse"),
        ("project.json empty", lambda f, d: "", "refuse"),
        ("wrong format", lambda f, d: d.update(format="genprop-edit"), "refuse"),
        ("10,000-character format", lambda f, d: d.update(format="x" * 10_000), "refuse"),
        ("10,000-character result folder", lambda f, d: d["results"][0].update(folder="x" * 10_000), "refuse"),
        ("version 2", lambda f, d: d.update(version=2), "refuse"),
        ("clip is a number", lambda f, d: d.update(clip=3), "refuse"),
        ("clip with NUL", lambda f, d: d.update(clip="a\x00b"), "refuse"),
        ("clip elsewhere on disk", lambda f, d: d.update(clip="/somewhere/clip.mp4"), "accept"),
        ("engine is a list", lambda f, d: d.update(engine=["classic"]), "refuse"),
        ("engine options a list", lambda f, d: d.update(engine={"engine": "classic", "options": [1]}), "refuse"),
    ]
    return [Case("project", name, _project(mutate, base), expect) for name, mutate, expect in c]


def _truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


# ----------------------------------------------------------------------------- random mutants
HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, -(2**63), 10**39, 1e308, -1e308, 1e-320, 0.5, "", "x" * 10_000,
    "../../../etc/passwd", "/etc/passwd", "assets/none.png", "assets/m0.png", "assets/../../x.png", "C:\\x.png", "\x00",
    [], {}, [1, 2, 3], [[[[[[[[1]]]]]]]], {"op": "remove"}, {"a": {"b": {"c": {}}}}, "telea", "diffusers", "NaN", "16:9",
]  # fmt: skip


def _json_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:8]):
            yield from _json_paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def mutate_json(text: str, rng: np.random.Generator) -> bytes:
    """One random mutant of a JSON document: byte-level damage or a hostile value in a random place."""
    data = bytearray(text.encode("utf-8"))
    how = int(rng.integers(0, 9))
    if how == 0:  # flip bits
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        return bytes(data)
    if how == 1:  # truncate
        return bytes(data[: int(rng.integers(0, len(data)))])
    if how == 2:  # insert random bytes or tokens
        pos = int(rng.integers(0, len(data)))
        token = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\u0000", b"NaN", b"1e999", b"-", b"\xff", b"9" * 5001][
            int(rng.integers(0, 13))
        ]
        return bytes(data[:pos] + token + data[pos:])
    if how == 3:  # duplicate or delete a slice
        a, b = sorted(int(v) for v in rng.integers(0, len(data), 2))
        return bytes(data[:a] + data[a:b] * int(rng.integers(0, 3)) + data[b:])
    doc = json.loads(text)
    paths = list(_json_paths(doc))
    path = paths[int(rng.integers(0, len(paths)))]
    if how <= 6:
        value = HOSTILE_VALUES[int(rng.integers(0, len(HOSTILE_VALUES)))]
        doc = _set(doc, path, value)
    elif how == 7 and path:  # drop a key / element
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    else:  # grow a list / add an unknown key
        if isinstance(doc, dict) and isinstance(doc.get("operations"), list) and doc["operations"]:
            doc["operations"] = doc["operations"] * int(rng.integers(2, 40))
        elif isinstance(doc, dict):
            doc["unexpected"] = 1
    return json.dumps(doc).encode("utf-8")


def mutate_png(data: bytes, rng: np.random.Generator) -> bytes:
    """One random mutant of a PNG: bit flips, truncation, insertion, chunk surgery, or CRC-fixed data damage."""
    b = bytearray(data)
    how = int(rng.integers(0, 7))
    if how == 0:
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if how == 1:
        return bytes(b[: int(rng.integers(0, len(b)))])
    if how == 2:
        pos = int(rng.integers(0, len(b)))
        return bytes(b[:pos] + rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes() + b[pos:])
    parts = chunks_of(data)
    if how == 3 and len(parts) > 2:  # drop or duplicate a chunk
        i = int(rng.integers(0, len(parts)))
        parts = parts[:i] + parts[i + 1 :] if rng.random() < 0.5 else parts[: i + 1] + parts[i:]
        return assemble(parts)
    if how == 4 and len(parts) > 2:  # swap two chunks
        i, j = (int(v) for v in rng.integers(0, len(parts), 2))
        parts[i], parts[j] = parts[j], parts[i]
        return assemble(parts)
    return _idat_recrc(data, int(rng.integers(0, 1 << 16)))


def mutant_cases(fmt: str, count: int, seed: int, project_base: Path | None = None) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    if fmt == "edit":
        text = json.dumps(valid_edit_doc())
        for i in range(count):
            data = mutate_json(text, rng)
            cases.append(
                Case("edit", f"edit mutant {i}", lambda f, d=data: write_edit_folder(f, d), "either", folder="edit-mutants")
            )
    elif fmt == "png":
        bases = list(png_bases().values())
        for i in range(count):
            data, pixels = bases[int(rng.integers(0, len(bases)))]
            cases.append(Case("png", f"png mutant {i}", _png_file(mutate_png(data, rng)), "either", pixels))
    elif fmt == "project":
        assert project_base is not None
        text = (project_base / "project.json").read_text()
        for i in range(count):
            data = mutate_json(text, rng)
            cases.append(
                Case(
                    "project",
                    f"project mutant {i}",
                    _project(lambda f, d, m=data: m, project_base),
                    "either",
                    folder="project-mutants",
                )
            )
    return cases


# ----------------------------------------------------------------------------- clips (optional)
def clip_bases(folder: Path) -> list[Path]:
    """Small real clips of the containers users bring (B-frames, MPEG-PS/TS, MJPEG, VP9)."""
    from tests.test_video_streams import encode_stream
    from tests.video_factory import encode, moving_frames

    folder.mkdir(parents=True, exist_ok=True)
    frames = moving_frames(24, 64, 48)
    return [
        encode(folder / "a.mp4", frames, "libx264", options={"crf": "20"}),
        encode(folder / "b.mkv", frames, "libx264"),
        encode_stream(folder / "c.mpg", frames, "mpeg2video", "mpeg", options={"bf": "2", "g": "6"}),
        encode_stream(folder / "d.ts", frames, "mpeg2video", "mpegts", options={"bf": "2"}),
        encode(folder / "e.avi", frames, "mjpeg", pix_fmt="yuvj420p"),
        encode(folder / "f.webm", frames, "libvpx-vp9", options={"b": "0", "crf": "30"}),
    ]


def clip_cases(workdir: Path, count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    bases = clip_bases(workdir / "clip-bases")
    cases = []
    for i in range(count):
        base = bases[i % len(bases)]
        b = bytearray(base.read_bytes())
        how = int(rng.integers(0, 4))
        if how == 0:
            for _ in range(int(rng.integers(1, 20))):
                b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
        elif how == 1:
            b = b[: int(rng.integers(0, len(b)))]
        elif how == 2:
            a = int(rng.integers(0, len(b)))
            b = b[:a] + rng.integers(0, 256, int(rng.integers(1, 2000)), dtype=np.uint8).tobytes() + b[a:]
        else:
            a, z = sorted(int(v) for v in rng.integers(0, len(b), 2))
            b = b[:a] + b[z:]

        def build(folder: Path, data: bytes = bytes(b), suffix: str = base.suffix) -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"clip{suffix}"
            path.write_bytes(data)
            return path

        cases.append(Case("clip", f"clip mutant {i}", build, "either"))
    return cases


def _read_whole_clip(path: Path) -> int:
    """What ``info`` and ``propagate`` do: open, random access, then every frame in order."""
    from engine.video import open_video

    with open_video(path) as reader:
        n = len(reader)
        for k in (0, n - 1, n // 2):
            reader[k]
        return sum(1 for _ in reader)


# ----------------------------------------------------------------------------- running one input
class _Hang(Exception):
    pass


class Watch:
    """Records every file a loader opens: Python's ``open``/``os.open``/listings (an audit
    hook), and FFmpeg's opens (``av.open`` is wrapped while a load runs)."""

    def __init__(self) -> None:
        self.active = False
        self.events: list[tuple[str, str, bool]] = []  # (event, path, writes)
        sys.addaudithook(self._hook)
        # Python's and our own code (lazy imports), and the Hugging Face cache (the designated model store)
        hf_cache = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
        self._python = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix})
        self._code = (str(ROOT),)
        self._stores = (str(Path(hf_cache).resolve()),)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event not in (
            "open",
            "os.listdir",
            "os.scandir",
            "os.mkdir",
            "os.remove",
            "os.rename",
            "os.symlink",
        ):
            return
        path = args[0] if args else None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return
        writes = event != "open" and event not in ("os.listdir", "os.scandir")
        if event == "open":
            mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
            writes = bool(mode and any(ch in str(mode) for ch in "wax+")) or bool(
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
        self.events.append((event, path, writes))

    @contextmanager
    def recording(self) -> Iterator[None]:
        import av

        real_open = av.open

        def watched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, os.PathLike)):
                mode = kwargs.get("mode", args[0] if args else "r")
                self.events.append(("av.open", os.fspath(file), "w" in str(mode)))
            return real_open(file, *args, **kwargs)

        self.events.clear()
        av.open = watched_open
        self.active = True
        try:
            yield
        finally:
            self.active = False
            av.open = real_open

    def problems(self, allowed: Path) -> list[str]:
        """Opens outside ``allowed`` (imports of our own or Python's code aside) and any write.

        The app's own result cache is not "outside": a loaded project's results are linked
        there (regular files from inside the project only, app/result_cache.py) so a view
        keeps reading them after the project folder is replaced.
        """
        from app.result_cache import cache_root

        out = []
        root = str(allowed.resolve())
        cache = os.path.realpath(cache_root()) + os.sep
        for event, path, writes in self.events:
            if os.sep not in path and path not in (".", "..") and event == "open":
                continue  # a name relative to a directory descriptor (shutil.rmtree's walk): not a path we chose
            real = os.path.realpath(path)
            if real.startswith(cache) or cache.startswith(real + os.sep):
                continue  # the app's result cache, and its parents being created
            if writes:
                out.append(f"{event} wrote {path}")
            elif not (real == root or real.startswith(root + os.sep)):
                is_code = real.startswith(self._python) or (
                    real.startswith(self._code) and (event != "open" or real.endswith((".py", ".pyc")))
                )
                if not is_code and not real.startswith(self._stores) and path not in (".", ""):
                    out.append(f"{event} {path}")
        return out


_WATCH: Watch | None = None


def watch() -> Watch:
    global _WATCH
    if _WATCH is None:
        _WATCH = Watch()
    return _WATCH


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _loader(fmt: str) -> tuple[Callable[[Path], Any], type[BaseException]]:
    if fmt == "edit":
        from engine.edits.edit_file import EditFileError, load_edit

        original = frame()
        return (lambda p: load_edit(p, original_frame=original, frame_count=CLIP_FRAMES)), EditFileError
    if fmt == "png":
        from engine.video.png import PngError, read_png

        return (lambda p: read_png(p, "L", "mask")), PngError
    if fmt == "clip":
        from engine.video import VideoError

        return _read_whole_clip, VideoError
    from app.project import Project, ProjectError

    return Project.load, ProjectError


def _check_accepted(case: Case, value: Any) -> str:
    """Why an accepted input's result is wrong ("" when it is right)."""
    if case.format == "png":
        if case.original is not None and not np.array_equal(value, case.original):
            return "accepted with different pixels (silent corruption)"
        return ""
    if case.format == "clip":
        return "" if isinstance(value, int) and value > 0 else "accepted with no frames"
    if case.format == "edit":
        spec, edit = value
        if edit is None or edit.edited_frame.dtype != np.uint8 or edit.edit_mask.shape != edit.edited_frame.shape[:2]:
            return "accepted but the composed edit is malformed"
        return ""
    project = value
    for entry in project.results:
        r = entry.result
        if r.frames.ndim != 4 or r.masks.shape != r.frames.shape[:3]:
            return "accepted but a result is malformed"
    return ""


def run_case(case: Case, workdir: Path) -> Outcome:
    """Build ``case`` in a fresh folder of ``workdir``, load it, classify the outcome."""
    folder = workdir / (case.folder or f"{case.format}-{abs(hash(case.name)) % 10**10}")
    if folder.exists() and case.folder is None:
        shutil.rmtree(folder)
    path = case.build(folder)
    load, documented = _loader(case.format)
    w = watch()
    start = time.perf_counter()
    kind, detail, value = "", "", None
    try:
        with w.recording(), _deadline(HANG_SECONDS):
            value = load(path)
        kind = "accepted"
    except _Hang:
        kind, detail = "hang", f"over {HANG_SECONDS:.0f} s"
    except documented as exc:
        message = str(exc)
        kind = "refused"
        if not message.strip() or "\n" in message or len(message) > MAX_MESSAGE:
            kind, detail = "unclear", repr(message[:200])
        else:
            detail = message
    except BaseException as exc:  # noqa: BLE001 - this is what the corpus looks for
        kind, detail = "crash", f"{type(exc).__name__}: {str(exc)[:200]}"
    seconds = time.perf_counter() - start
    if seconds > HANG_SECONDS:
        kind, detail = "hang", f"{seconds:.1f} s"
    escapes = w.problems(folder)
    if escapes:
        kind, detail = "escape", "; ".join(escapes[:3])
    elif kind == "accepted":
        wrong = _check_accepted(case, value)
        if wrong:
            kind, detail = "wrong", wrong
        elif case.expect == "refuse":
            kind, detail = "wrong", "accepted, but it must be refused"
    elif kind == "refused" and case.expect == "accept":
        kind, detail = "wrong", f"refused a valid input: {detail}"
    if case.folder is None:
        shutil.rmtree(folder, ignore_errors=True)
    return Outcome(case.format, case.name, kind, seconds, detail)


def corpus(workdir: Path, mutants: int = 200, seed: int = 17) -> dict[str, list[Case]]:
    """Every case of every format: the hand-made ones and ``mutants`` random ones each."""
    base = workdir / "project-base"
    if not base.exists():
        write_project(base)
    return {
        "edit": edit_cases() + mutant_cases("edit", mutants, seed),
        "png": png_cases() + mutant_cases("png", mutants, seed + 1),
        "project": project_cases(base) + mutant_cases("project", mutants, seed + 2, base),
    }


def warm_up(workdir: Path, cases: dict[str, list[Case]]) -> None:
    """Import what loaders import lazily (PIL plugins, PyAV, the hub cache lookup) outside the watched loads."""
    from engine.edits.inpaint import _in_hub_cache

    _in_hub_cache("no/such-model")
    for fmt in FORMATS:
        run_case(cases[fmt][0], workdir)


def run_corpus(workdir: Path, mutants: int = 200, seed: int = 17, clips: int = 0) -> list[Outcome]:
    cases = corpus(workdir, mutants, seed)
    warm_up(workdir, cases)
    if clips:
        cases["clip"] = clip_cases(workdir, clips, seed + 3)
    return [run_case(case, workdir) for fmt in (*FORMATS, *OPTIONAL_FORMATS) if fmt in cases for case in cases[fmt]]


def summary(outcomes: list[Outcome]) -> str:
    lines = [
        "| format | inputs | hand-made | accepted | refused (clear error) | crash | hang | escape | unclear | wrong |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fmt in (*FORMATS, *OPTIONAL_FORMATS):
        mine = [o for o in outcomes if o.format == fmt]
        if not mine:
            continue
        kinds = Counter(o.kind for o in mine)
        hand = sum(1 for o in mine if "mutant" not in o.name)
        lines.append(
            f"| {fmt} | {len(mine)} | {hand} | {kinds['accepted']} | {kinds['refused']} | {kinds['crash']} | {kinds['hang']} | "
            f"{kinds['escape']} | {kinds['unclear']} | {kinds['wrong']} |"
        )
    slowest = max(outcomes, key=lambda o: o.seconds)
    lines.append("")
    lines.append(f"slowest input: {slowest.format} / {slowest.name}: {slowest.seconds * 1000:.0f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description="run the hostile-input corpus and print the figures")
    parser.add_argument("--mutants", type=int, default=200, help="random mutants per format (default 200)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--clips", type=int, default=0, help="also this many random mutants of real clips (default 0)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outcomes = run_corpus(Path(tmp), args.mutants, args.seed, args.clips)
        elapsed = time.perf_counter() - start
    print(summary(outcomes))
    print(f"{len(outcomes)} inputs in {elapsed:.1f} s")
    bad = [o for o in outcomes if not o.ok]
    for o in bad:
        print(f"FAIL {o.format} / {o.name}: {o.kind}: {o.detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
