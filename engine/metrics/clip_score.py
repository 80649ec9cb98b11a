"""CLIP-T (frame/text similarity) and CLIP-I (consecutive-frame similarity), as in the
GenProp paper, from a CLIP model stored in a local folder.

No CLIP weights ship with the app and none can be downloaded here, so loading is
explicit: :func:`load_clip_scorer` returns ``(None, note)`` when no usable model folder
is given, and evaluation reports the note instead of a number.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CLIP_PATH_ENV = "GENPROP_CLIP_MODEL"
"""Environment variable naming a local CLIP folder (transformers ``save_pretrained`` layout)."""


class ClipScorer:
    """Wraps a transformers ``CLIPModel`` + processor; all scores are raw cosines."""

    def __init__(self, model: object, processor: object, batch_size: int = 16) -> None:
        self.model = model
        self.processor = processor
        self.batch_size = int(batch_size)

    @classmethod
    def from_folder(cls, path: str | os.PathLike[str]) -> ClipScorer:
        """Load from a local folder; never touches the network, never unpickles (safetensors only)."""
        from transformers import CLIPModel, CLIPProcessor

        from engine.safe_paths import load_json

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"no CLIP model at {folder} (config.json missing)")
        if not isinstance(load_json(folder / "config.json", "CLIP config", max_bytes=1 << 20, error=ValueError), dict):
            raise ValueError(f"{folder / 'config.json'} must hold a JSON object")
        if not any(folder.glob("*.safetensors")):
            raise FileNotFoundError(f"no CLIP weights in safetensors format in {folder} (pickle .bin files are never loaded)")
        model = CLIPModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
        processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
        return cls(model, processor)

    def image_embeddings(self, frames: np.ndarray) -> np.ndarray:
        """``[T, D]`` L2-normalised embeddings of ``[T, H, W, 3]`` uint8 frames."""
        import torch

        out = []
        for i in range(0, len(frames), self.batch_size):
            batch = [np.asarray(f) for f in frames[i : i + self.batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt")
            with torch.inference_mode():
                emb = self.model.get_image_features(pixel_values=inputs["pixel_values"])
            emb = getattr(emb, "pooler_output", emb)
            out.append(torch.nn.functional.normalize(emb.float(), dim=-1).numpy())
        return np.concatenate(out, axis=0)

    def text_embedding(self, text: str) -> np.ndarray:
        """``[D]`` L2-normalised embedding of ``text``."""
        import torch

        if not text.strip():
            raise ValueError("CLIP-T needs a non-empty text description of the edit")
        # truncation: CLIP's text encoder has a fixed number of positions (77 for real CLIP)
        inputs = self.processor(text=[text], return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            emb = self.model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        emb = getattr(emb, "pooler_output", emb)
        return torch.nn.functional.normalize(emb.float(), dim=-1).numpy()[0]

    def clip_t(self, frames: np.ndarray, text: str) -> float:
        """Mean cosine similarity of every frame to ``text``."""
        return float((self.image_embeddings(frames) @ self.text_embedding(text)).mean())

    def clip_i(self, frames: np.ndarray) -> float:
        """Mean cosine similarity of consecutive frames (needs at least two)."""
        if len(frames) < 2:
            raise ValueError(f"CLIP-I needs at least 2 frames, got {len(frames)}")
        emb = self.image_embeddings(frames)
        return float(np.sum(emb[1:] * emb[:-1], axis=-1).mean())


def load_clip_scorer(path: str | os.PathLike[str] | None = None) -> tuple[ClipScorer | None, str]:
    """``(scorer, "")`` from ``path`` or ``$GENPROP_CLIP_MODEL``, else ``(None, why)``."""
    path = path or os.environ.get(CLIP_PATH_ENV)
    if not path:
        return None, f"CLIP metrics skipped: no CLIP model folder given (set {CLIP_PATH_ENV})"
    try:
        return ClipScorer.from_folder(path), ""
    except (OSError, ValueError, ImportError) as exc:
        return None, f"CLIP metrics skipped: could not load a CLIP model from {path}: {exc}"
