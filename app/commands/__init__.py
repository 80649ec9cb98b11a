"""CLI commands beyond ``info``; importing a module registers its command (see ``app.cli``)."""

from app.commands import batch as batch  # noqa: F401
from app.commands import evaluate as evaluate  # noqa: F401
from app.commands import propagate as propagate  # noqa: F401
from app.commands import train as train  # noqa: F401
