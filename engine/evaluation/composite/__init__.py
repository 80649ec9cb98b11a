"""Composite test cases on real footage with exact ground truth (issue 13's benchmark).

Real camera plates (``../shared/data/clips``) with real object cut-outs (PASCAL VOC
instances) pasted on them: a moving, slightly scaling object with a soft cast shadow.
The plate without the paste is the removal truth, the pasted alpha the tracking truth,
a planar photo under a known homography the insert truth, a wider crop of the plate
the outpaint truth. :func:`build_cases` makes them in memory; :func:`write_testset`
writes them in the ``evaluate`` command's test-set format.
"""

from engine.evaluation.composite.cases import SCENES, CompositeCase, build_cases
from engine.evaluation.composite.sources import DATA_ENV, default_data_dir, has_data
from engine.evaluation.composite.write import write_testset

__all__ = ["DATA_ENV", "SCENES", "CompositeCase", "build_cases", "default_data_dir", "has_data", "write_testset"]
