from engine.engines import classic as classic  # noqa: F401  (registers the "classic" engine)
