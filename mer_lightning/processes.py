"""Which process runs a run, and whether it still lives: how a RUNNING run left by a killed process is told from a
live one.

A run is tagged with its process as `host:pid:start` (the start time tells a pid the system has since given to
another process). On its own host, a process is alive or dead for sure; on another host (a cluster node) it cannot be
told from here.
"""

from __future__ import annotations

import socket

import psutil


def this_process() -> str:
    """`host:pid:start` of the calling process."""
    process = psutil.Process()
    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.2f}"


def alive(reference: str) -> bool | None:
    """Whether the process of a `host:pid:start` reference still runs: None when it ran on another host (or the
    reference is not one)."""
    try:
        host, pid, start = reference.rsplit(":", 2)
        pid_number, started = int(pid), float(start)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    try:
        return f"{psutil.Process(pid_number).create_time():.2f}" == f"{started:.2f}"
    except psutil.NoSuchProcess:
        return False
