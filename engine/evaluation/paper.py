"""Numbers the GenProp paper reports (Liu et al., CVPR 2025), for the report's tables.

They are printed beside ours and always marked "reported": they were measured on the
paper's own test sets with its own models, and nothing here reproduces them.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "Generative Video Propagation (Liu et al., CVPR 2025, arXiv 2412.19761)"


@dataclass(frozen=True)
class ReportedRow:
    """One method's reported scores on one of the paper's test sets."""

    method: str
    test_set: str
    psnr_m: float | None
    clip_t: float | None
    clip_i: float | None


# Table 1: PSNRm / CLIP-T / CLIP-I on the paper's Classic and Challenging sets.
TABLE1: tuple[ReportedRow, ...] = tuple(
    ReportedRow(m, s, p, t, i)
    for m, classic, challenging in (
        ("InsV2V", (28.999, 0.3049, 0.9737), (28.842, 0.2906, 0.9718)),
        ("AnyV2V", (32.090, 0.3050, 0.9676), (28.338, 0.3302, 0.9576)),
        ("Pika", (32.568, 0.3226, 0.9923), (31.329, 0.3023, 0.9886)),
        ("ReVideo", (31.765, 0.3196, 0.9777), (29.920, 0.3226, 0.9798)),
        ("GenProp", (33.837, 0.3229, 0.9825), (32.163, 0.3336, 0.9904)),
    )
    for s, (p, t, i) in (("Classic", classic), ("Challenging", challenging))
)

# Table 2: object removal, CLIP-I only.
TABLE2: tuple[ReportedRow, ...] = (
    ReportedRow("SAM2+ProPainter", "removal", None, None, 0.9809),
    ReportedRow("ReVideo", "removal", None, None, 0.9728),
    ReportedRow("GenProp", "removal", None, None, 0.9879),
)
