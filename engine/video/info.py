"""What the app knows about a clip, independent of how it is stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.video.colour import ColourTags


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of an opened clip.

    ``width``/``height`` are the size of the frames the reader returns (after rotation
    and after any bounding downscale); ``source_width``/``source_height`` are the
    displayed size before that downscale (after rotation). ``fps`` is the nominal rate; ``average_fps`` comes from the
    timestamps and differs for variable-frame-rate sources. ``bit_depth`` is the stored
    depth per component (10 for ProRes 422, 16 for 16-bit PNG); ``colour`` the stream's
    colour tags and ``timecode`` its start timecode ("" when it has none), both copied
    onto pro-format outputs.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    frame_count: int
    fps: float
    average_fps: float
    duration: float
    variable_frame_rate: bool = False
    rotation: int = 0
    pixel_format: str = ""
    bit_depth: int = 8
    has_alpha: bool = False
    is_grayscale: bool = False
    has_audio: bool = False
    audio_codec: str = ""
    source_width: int = 0
    source_height: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    colour: ColourTags = ColourTags()
    timecode: str = ""

    @property
    def downscaled(self) -> bool:
        """True when frames are delivered smaller than stored (huge sources)."""
        return (self.source_width, self.source_height) != (self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["warnings"] = list(self.warnings)
        d["colour"] = self.colour.to_dict()
        return d

    def describe(self) -> str:
        """Multi-line human summary (what ``main.py info`` prints)."""
        lines = [
            f"file:        {self.path}",
            f"container:   {self.container}",
            f"codec:       {self.codec} ({self.pixel_format}, {self.bit_depth}-bit"
            + (", alpha" if self.has_alpha else "")
            + (", grayscale" if self.is_grayscale else "")
            + ")",
            f"size:        {self.width}x{self.height}"
            + (f" (downscaled from {self.source_width}x{self.source_height})" if self.downscaled else ""),
            f"frames:      {self.frame_count}",
            f"fps:         {self.fps:.3f}"
            + (f" (variable frame rate; average {self.average_fps:.3f})" if self.variable_frame_rate else ""),
            f"duration:    {self.duration:.3f} s",
            f"rotation:    {self.rotation} degrees" if self.rotation else "rotation:    none",
            f"audio:       {self.audio_codec}" if self.has_audio else "audio:       none",
        ]
        if self.colour.specified:
            lines.append(f"colour:      {self.colour.describe()}")
        if self.timecode:
            lines.append(f"timecode:    {self.timecode}")
        lines += [f"warning:     {w}" for w in self.warnings]
        return "\n".join(lines)
