"""Names of the pipelines' memory modes (light: the options and the GUI import it without torch)."""

from __future__ import annotations

#: Named modes, leanest last. ``auto`` is resolved by ``engine.pipelines.memory.choose_plan``.
MEMORY_MODES: tuple[str, ...] = ("fp32", "bf16", "fp16", "offload", "sequential")
ALL_MODES: tuple[str, ...] = ("auto", *MEMORY_MODES)
