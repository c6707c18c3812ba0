"""The servers a backend description needs, started on loopback by whichever harness
command runs it (the contract, the scenarios, the benchmark), or in a network
namespace for the scenarios' partitions.

A redis-server listens on a free 127.0.0.1 port, keeps nothing on disk, and is
stopped by its own pid when the block ends. A service whose URL is already in the
environment (``$PYNENC_CONTRACT_REDIS_URL``) is used as it is.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from pynenc_contract.backend import BackendDescription, BackendDescriptionError, Service

_START_TIMEOUT_SECONDS = 10.0
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class RedisServer:
    """A running server's URL and version, or why there is none (``url`` is None)."""

    url: str | None
    detail: str


@contextmanager
def redis_server(
    workdir: Path | None = None, host: str = LOOPBACK, prefix: Sequence[str] = ()
) -> Iterator[RedisServer]:
    """Start redis-server on a free port of ``host`` for the block; never raises for a
    missing or failing binary, so that callers can skip or fail as suits them.

    ``prefix`` runs it elsewhere (``ip netns exec NAME``: in a network namespace
    where ``host`` is an address, reachable from this process).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        yield RedisServer(None, "redis-server is not installed (apt-get install redis-server)")
        return
    version = redis_server_version()
    port = _free_port()
    # protected mode refuses every client but loopback ones: off where the server is
    # bound to a namespace's address on this machine's private bridge
    protected = "yes" if host == LOOPBACK else "no"
    command = [*prefix, binary, "--bind", host, "--port", str(port), "--protected-mode", protected]
    command += ["--save", "", "--appendonly", "no"]
    if workdir is not None:
        command += ["--dir", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not _answers(host, port, process.pid):
            if process.poll() is not None or time.monotonic() > deadline:
                yield RedisServer(None, f"redis-server did not start on {host}:{port}")
                return
            time.sleep(0.05)
        yield RedisServer(f"redis://{host}:{port}/0", version)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def redis_server_version() -> str:
    """What ``redis-server --version`` prints, or that it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        return "not installed"
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


#: How each kind of server is started.
STARTERS = {Service.REDIS: redis_server}


class ServiceUnavailableError(BackendDescriptionError):
    """A server the backend needs can neither be started nor found."""


@contextmanager
def services_started(
    backend: BackendDescription,
    workdir: Path | None = None,
    *,
    host: str = LOOPBACK,
    prefix: Sequence[str] = (),
    replace: bool = False,
) -> Iterator[dict[str, str]]:
    """Start every server ``backend`` needs whose URL the environment does not give yet
    (every one with ``replace``), on ``host`` and with ``prefix`` (see :func:`redis_server`).

    For the block, ``os.environ`` names each server (child processes inherit it); the
    variables set are yielded, and restored after. Raises :class:`ServiceUnavailableError`
    naming the fix.
    """
    started: dict[str, str] = {}
    with ExitStack() as stack:
        for service in sorted(backend.services):
            if service.url_env in os.environ and not replace:
                continue
            server = stack.enter_context(STARTERS[service](workdir, host, prefix))
            if server.url is None:
                raise ServiceUnavailableError(
                    f"{backend.name} needs a {service.value}: {server.detail}; or set "
                    f"${service.url_env} to the URL of a running one"
                )
            started[service.url_env] = server.url
        previous = {name: os.environ.get(name) for name in started}
        os.environ.update(started)
        try:
            yield started
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _answers(host: str, port: int, pid: int) -> bool:
    """Whether the server on ``host:port`` is up and is ours (another may have taken the
    port)."""
    with suppress(OSError), socket.create_connection((host, port), timeout=0.2) as sock:
        sock.sendall(b"INFO server\r\n")
        reply = b""
        while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return f"process_id:{pid}\r\n".encode() in reply
    return False
