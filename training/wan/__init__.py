"""GenProp training on the Wan (DiT) backbone: ``backbone: wan`` / ``tiny_wan`` in the training config.

``config`` (the ``wan:`` section, light), ``models`` (G + heads + VAE + the cached prompt
embedding), ``step`` (flow matching + the Region-Aware loss), ``trainer`` (the SVD trainer's
loop, checkpoints and EMA with Wan's inputs), ``validation`` (a few Euler steps, PSNR outside
the edit and MPD IoU).
"""
