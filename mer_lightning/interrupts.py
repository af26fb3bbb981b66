"""Signals that stop a process, remembered, so that the runs it leaves end KILLED and name the signal.

`watch()` installs, once per process, a handler for SIGINT, SIGTERM, SIGHUP and SIGUSR2 that notes the signal and then
does what the process did before: a handler that was already there is called (a launcher's: submitit lets SIGTERM
pass and takes SIGUSR2 to checkpoint and requeue a pre-empted job; Python's SIGINT handler raises KeyboardInterrupt);
a signal whose default was to end the process raises `Interrupted` instead, so that the process closes its runs on
the way out. SIGKILL cannot be caught: the runs it leaves RUNNING are closed by the next resume or `mer-summarize`.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

WATCHED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR2)
_previous: dict[int, object] = {}
_received: list[int] = []
_stopping: list[int] = []  # signals whose handler (a launcher's) raised: what stopped the process


class Interrupted(BaseException):
    """The process was told to stop by a signal (a BaseException, as KeyboardInterrupt: not an error of the code)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def watch() -> None:
    """Notes every watched signal from now on (idempotent; only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in WATCHED:
        current = signal.getsignal(signum)
        if current is not _handle:
            _previous[signum] = current
            signal.signal(signum, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    previous = _previous.get(signum)
    if callable(previous):
        try:
            previous(signum, frame)
        except BaseException:
            _stopping.append(signum)
            raise
    elif previous != signal.SIG_IGN:
        raise Interrupted(signum)


def keep_launcher_handlers() -> None:
    """Puts the watcher back in front of signals that a launcher handles (called once a library has replaced it:
    Lightning's SIGTERM handler would stop training that submitit means to keep going until its SIGUSR2)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in _previous.items():
        if callable(previous) and previous is not signal.default_int_handler:
            signal.signal(signum, _handle)


def received() -> str | None:
    """The name of the watched signal that stopped this process: the one whose handler raised (submitit's exits on
    SIGUSR2, and the SIGTERM SLURM sends as it requeues the job arrives meanwhile), else the last one received."""
    signals = _stopping or _received
    return signal.Signals(signals[-1]).name if signals else None


def stop_reason(error: BaseException) -> tuple[str, str, str | None]:
    """How a run stopped by `error` ends: (MLflow status, reason, signal name). KILLED when a signal stopped it
    (`Interrupted`, Ctrl-C's KeyboardInterrupt, or the SystemExit a library raises on one), FAILED for an error of the
    code or data; the reason names the signal and the exception that carried it out."""
    text = f"{type(error).__name__}: {error}".rstrip(": ")
    if isinstance(error, Interrupted):
        name = signal.Signals(error.signum).name
    elif isinstance(error, Exception):
        return "FAILED", text, None
    else:
        name = received() or ("SIGINT" if isinstance(error, KeyboardInterrupt) else None)
    if name is None:
        return "FAILED", text, None
    return "KILLED", f"killed by {name} ({text})", name
