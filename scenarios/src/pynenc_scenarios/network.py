"""Hosts on this machine for network faults: a network namespace per host, on a bridge.

:func:`hosts_network` gives each host (the servers a backend needs, each runner host)
its own network namespace, linked by a veth pair to a bridge in this process's
namespace, which keeps the subnet's first address so that the harness and its clients
reach the servers too. :meth:`Host.cut` takes a host's link down, and
:meth:`Host.restore` brings it back, as a partition of that host does: its packets
are dropped, its TCP connections neither fail nor go through until the link returns.

Everything stays on this machine: the subnet is one of 10.213.0.0/16 that no
interface uses, and interface and namespace names carry this process's pid, so that
leftovers of a run that was killed are recognised and removed by the next one.
Needs root and iproute2 (``ip``); :func:`network_unavailable` says why it cannot run.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

#: Namespaces and interfaces of this module: pn<pid>-<host>, pnbr<pid>, pnv<pid><host>
#: and its veth peer pnp<pid><host>.
_OURS = re.compile(r"^pn(?:br|v|p)?(\d+)")
_IP_TIMEOUT = 10.0


@dataclass
class Host:
    """One host: its network namespace, address and link to the bridge."""

    name: str
    namespace: str
    address: str
    link: str

    @property
    def prefix(self) -> tuple[str, ...]:
        """The command prefix that runs a program on this host."""
        return ("ip", "netns", "exec", self.namespace)

    def cut(self) -> None:
        """Take the host's link down: nothing goes in or out until :meth:`restore`."""
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        """Bring the host's link back up."""
        _ip("link", "set", self.link, "up")


class Network:
    """Hosts on one bridge; :meth:`host` adds one."""

    def __init__(self, subnet: int) -> None:
        self.subnet = subnet
        self.bridge = f"pnbr{os.getpid()}"
        self.hosts: list[Host] = []

    @property
    def gateway(self) -> str:
        """This process's address on the bridge."""
        return f"10.213.{self.subnet}.1"

    def host(self, name: str) -> Host:
        """A new host ``name`` (a short word: it goes into interface names)."""
        pid = os.getpid()
        host = Host(
            name,
            namespace=f"pn{pid}-{name}",
            address=f"10.213.{self.subnet}.{len(self.hosts) + 2}",
            link=f"pnv{pid}{name}",
        )
        if len(host.link) > 15:
            raise ValueError(f"host name {name!r} is too long for an interface name")
        self.hosts.append(host)
        peer = f"pnp{pid}{name}"
        _ip("netns", "add", host.namespace)
        _ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", host.namespace)
        _ip("link", "set", host.link, "master", self.bridge, "up")
        inside = ("-n", host.namespace)
        _ip(*inside, "addr", "add", f"{host.address}/24", "dev", peer)
        _ip(*inside, "link", "set", peer, "up")
        _ip(*inside, "link", "set", "lo", "up")
        return host


def network_unavailable() -> str | None:
    """Why :func:`hosts_network` cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 is not installed (apt-get install iproute2)"
    probe = f"pn{os.getpid()}-probe"
    try:
        _ip("netns", "add", probe)
    except NetworkError as problem:
        return f"cannot create a network namespace: {problem}"
    _ip("netns", "delete", probe)
    return None


class NetworkError(RuntimeError):
    """An ``ip`` command failed."""


@contextmanager
def hosts_network() -> Iterator[Network]:
    """A bridge with a free subnet for the block; every host added is removed after it
    (processes still running on a host are the caller's to stop first)."""
    _remove_leftovers()
    network = Network(_free_subnet())
    try:
        _ip("link", "add", network.bridge, "type", "bridge")
        _ip("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
        _ip("link", "set", network.bridge, "up")
        yield network
    finally:
        for host in network.hosts:
            with suppress(NetworkError):  # both ends at once (a namespace goes lazily)
                _ip("link", "delete", host.link)
            with suppress(NetworkError):
                _ip("netns", "delete", host.namespace)
        with suppress(NetworkError):
            _ip("link", "delete", network.bridge)


def _free_subnet() -> int:
    """A third octet of 10.213.0.0/16 that no interface's address is in."""
    listing = _ip("-o", "-4", "addr", "show")
    used = {int(octet) for octet in re.findall(r"inet 10\.213\.(\d+)\.", listing)}
    free = [k for k in range(1, 255) if k not in used]
    if not free:
        raise NetworkError("every subnet of 10.213.0.0/16 is in use: remove leftover bridges")
    return free[0]


def _remove_leftovers() -> None:
    """Remove namespaces and interfaces of this module whose process has exited."""
    namespaces = [line.split()[0] for line in _ip("netns", "list").splitlines() if line]
    links = re.findall(r"^\d+: ([^:@]+)", _ip("-o", "link", "show"), flags=re.MULTILINE)
    for name in namespaces:
        if (match := _OURS.match(name)) and not _pid_exists(int(match.group(1))):
            with suppress(NetworkError):
                _ip("netns", "delete", name)
    for name in links:
        if (match := _OURS.match(name)) and not _pid_exists(int(match.group(1))):
            with suppress(NetworkError):
                _ip("link", "delete", name)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ip(*args: str) -> str:
    """Run ``ip ARGS``; its output, or :class:`NetworkError` with its message."""
    command: Sequence[str] = ("ip", *args)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_IP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as problem:
        raise NetworkError(f"{' '.join(command)}: {problem}") from problem
    if done.returncode != 0:
        raise NetworkError(f"{' '.join(command)}: {done.stderr.strip()}")
    return done.stdout
