"""The ComfyUI node pack lives in ``genprop_studio/`` (the folder a user puts in ``custom_nodes``)."""
