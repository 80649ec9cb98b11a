from engine.engines import classic as classic  # noqa: F401  (registers the "classic" engine)
from engine.engines import genprop_engine as genprop_engine  # noqa: F401  (registers "genprop" and "genprop-training-free")
