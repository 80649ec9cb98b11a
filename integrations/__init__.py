"""Plug-ins for other hosts (ComfyUI). They import ``engine`` only (see comfyui/genprop_studio)."""
