"""The partition nemesis: a cut host reaches nothing, the others go on, a restored host
reaches the server again, and nothing of the network is left behind."""

import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from pynenc_contract.services import redis_server
from pynenc_scenarios.network import Host, hosts_network, network_unavailable

pytestmark = pytest.mark.skipif((reason := network_unavailable()) is not None, reason=reason or "")


def reaches(host: Host | None, address: str, port: int) -> bool:
    """Whether a new TCP connection from ``host`` (None: this one) gets through in 1 s."""
    prefix = host.prefix if host is not None else ()
    code = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1)"
    done = subprocess.run(
        [*prefix, sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0


def ours() -> list[str]:
    """The namespaces and interfaces that the network module made in this process."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    names = [line.split()[0] for line in namespaces.stdout.splitlines() if line]
    names += [line.split(":")[1].strip().partition("@")[0] for line in links.stdout.splitlines()]
    made_here = re.compile(rf"^pn(?:br|v|p)?{os.getpid()}(?!\d)")
    return sorted(name for name in names if made_here.match(name))


def test_a_cut_host_reaches_nothing_until_restored_and_others_go_on() -> None:
    with hosts_network() as network:
        servers, cut, other = (network.host(name) for name in ("srv", "a", "b"))
        with redis_server(None, servers.address, servers.prefix) as server:
            assert server.url is not None, server.detail
            port = urlsplit(server.url).port
            assert port is not None
            assert reaches(cut, servers.address, port)
            cut.cut()
            assert not reaches(cut, servers.address, port)
            assert reaches(other, servers.address, port)
            assert reaches(None, servers.address, port)
            cut.restore()
            assert reaches(cut, servers.address, port)
    assert ours() == []


def test_leftovers_of_a_killed_run_are_removed() -> None:
    leftover = "pn999999999-srv"  # no such pid: the run that made it is gone
    subprocess.run(["ip", "netns", "add", leftover], check=True)
    try:
        with hosts_network():
            listed = subprocess.run(
                ["ip", "netns", "list"], capture_output=True, text=True, check=True
            )
            assert leftover not in listed.stdout
    finally:
        subprocess.run(["ip", "netns", "delete", leftover], capture_output=True, check=False)
    assert ours() == []
