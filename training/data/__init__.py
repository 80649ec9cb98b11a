"""Training data: dataset readers, clip sampling, synthetic pairs, the pair dataset."""

from training.data.clips import ClipEntry, DatasetLayoutError, ProceduralClipEntry
from training.data.dataset import PairDataset, ResumableSampler
from training.data.image_pool import ImagePool
from training.data.readers import read_davis, read_folder, read_procedural, read_sav, read_source, read_youtube_vos

__all__ = [
    "ClipEntry",
    "DatasetLayoutError",
    "ImagePool",
    "PairDataset",
    "ProceduralClipEntry",
    "ResumableSampler",
    "read_davis",
    "read_folder",
    "read_procedural",
    "read_sav",
    "read_source",
    "read_youtube_vos",
]
