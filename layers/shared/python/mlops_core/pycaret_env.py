"""PyCaret's import-time side effect, contained in one place."""

from __future__ import annotations

import os

from mlops_core import settings


def quiet_pycaret_logging() -> None:
    """PyCaret opens logs.log in the working directory when imported — read-only on Lambda, the repository
    locally — unless told another path. Importing it happens both when training and when unpickling a
    PyCaret pipeline, so both call this first; an explicit setting by the user wins."""
    os.environ.setdefault(settings.PYCARET_CUSTOM_LOGGING_PATH, os.devnull)
