"""The single source of the product's version (pyproject reads it from here)."""

__version__ = "0.1.0"
APP_NAME = "GenProp Studio"
