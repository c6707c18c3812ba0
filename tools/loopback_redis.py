"""A private redis-server on 127.0.0.1, for the nox sessions and the benchmark.

Standard library only (nox imports it before any environment exists). The
server listens on a free loopback port, keeps nothing on disk, and is stopped
by its own pid when the block ends.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

_START_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RedisServer:
    """A running server's URL and version, or why there is none (``url`` is None)."""

    url: str | None
    detail: str


@contextmanager
def redis_server(workdir: Path | None = None) -> Iterator[RedisServer]:
    """Start redis-server on a free 127.0.0.1 port for the block; never raises for a
    missing or failing binary, so that callers can skip or fail as suits them."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield RedisServer(None, "redis-server is not installed (apt-get install redis-server)")
        return
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    port = _free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes"]
    command += ["--save", "", "--appendonly", "no"]
    if workdir is not None:
        command += ["--dir", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not _answers(port, process.pid):
            if process.poll() is not None or time.monotonic() > deadline:
                yield RedisServer(None, f"redis-server did not start on 127.0.0.1:{port}")
                return
            time.sleep(0.05)
        yield RedisServer(f"redis://127.0.0.1:{port}/0", version)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int, pid: int) -> bool:
    """Whether the server on ``port`` is up and is ours (another may have taken the port)."""
    with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
        sock.sendall(b"INFO server\r\n")
        reply = b""
        while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return f"process_id:{pid}\r\n".encode() in reply
    return False
