"""First-frame editing toolkit (no Qt): selection, refinement, operations, edit files.

Every operation is a pure function ``op(frame, ...) -> (new_frame, EditOperation)``;
:func:`compose` applies a list of specs in order and returns the ``FirstFrameEdit`` the
engines consume; :mod:`engine.edits.edit_file` saves and loads them as JSON + PNGs.
"""

from engine.edits import masks
from engine.edits.compose import as_spec, compose
from engine.edits.edit_file import EditFileError, EditSpec, load_edit, save_edit
from engine.edits.inpaint import InpaintUnavailableError, available_methods, inpaint
from engine.edits.insert import InsertSpec, insert
from engine.edits.layers import Placement, composite, cut_layer, load_layer_png, place_layer
from engine.edits.outpaint import OutpaintSpec, margins_for_aspect, outpaint, parse_aspect
from engine.edits.recolour import RecolourSpec, apply_recolour, recolour
from engine.edits.remove import RemoveSpec, remove
from engine.edits.replace import ReplaceSpec, replace
from engine.edits.specs import OpSpec, spec_classes, spec_from_dict, spec_to_dict
from engine.edits.track import TrackSpec, track

__all__ = [
    "EditFileError",
    "EditSpec",
    "load_edit",
    "save_edit",
    "InpaintUnavailableError",
    "InsertSpec",
    "OpSpec",
    "OutpaintSpec",
    "Placement",
    "RecolourSpec",
    "RemoveSpec",
    "ReplaceSpec",
    "TrackSpec",
    "apply_recolour",
    "as_spec",
    "available_methods",
    "compose",
    "composite",
    "cut_layer",
    "inpaint",
    "insert",
    "load_layer_png",
    "margins_for_aspect",
    "masks",
    "outpaint",
    "parse_aspect",
    "place_layer",
    "recolour",
    "remove",
    "replace",
    "spec_classes",
    "spec_from_dict",
    "spec_to_dict",
    "track",
]
