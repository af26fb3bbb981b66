"""How the command-line tools answer bad input: as one clean message and a non-zero exit, without a traceback.

A `DataError` (a release's files), a `PreprocessError` (a clip's frames or landmarks) or a `SettingError` (a value
`settings.check` refuses) is the user's to fix, and its message already names the file, row, field or setting at
fault. The entry points' Hydra task functions are wrapped by
`reports_input_errors`, which re-raises such an error (also one that Hydra wrapped while instantiating) as an
`InputError`: Hydra prints those as their message alone and exits with status 1, and `HYDRA_FULL_ERROR=1` shows the
whole traceback, the original error included. In a sweep (`-m`) a failed fold's `InputError` is what the `folds`
sweeper's failure report lists. Any other error is a bug, and keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from hydra.errors import CompactHydraException

from mer_lightning.datasets.base import DataError
from mer_lightning.preprocess.sample import PreprocessError
from mer_lightning.settings import SettingError

REPORTED = (DataError, PreprocessError, SettingError)
Task = TypeVar("Task", bound=Callable)


class InputError(CompactHydraException):
    """Bad input data, shown as its message alone (Hydra prints its compact errors without a traceback)."""


def input_error(error: BaseException) -> BaseException | None:
    """The data or preprocessing error behind `error`, if any (Hydra wraps errors raised while instantiating)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, REPORTED):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def reporting_input_errors() -> Iterator[None]:
    """Inside, a data or preprocessing error leaves as an `InputError` carrying its message."""
    try:
        yield
    except InputError:
        raise
    except Exception as error:
        cause = input_error(error)
        if cause is None:
            raise
        raise InputError(str(cause)) from error


def reports_input_errors(task: Task) -> Task:
    """A Hydra task function whose data and preprocessing errors are reported as `InputError`s."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        with reporting_input_errors():
            return task(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
