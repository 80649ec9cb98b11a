"""File names of a GenProp weights folder (light: the weights locator checks them without torch)."""

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
