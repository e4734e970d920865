"""Port checks on IPv6 hosts: `::1` and `::` are documented local hosts (docs/runtime.md).

`port_is_free` used an IPv4 socket whatever the host, so binding `::1` always failed and every
free port on it was reported "already in use by another process"."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lakehouse import doctor, services
from lakehouse.settings import Settings
from lakehouse.supervisor import free_port, port_is_free


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback (::1) here")


@needs_ipv6
def test_a_free_port_on_ipv6_loopback_is_free_and_a_held_one_is_not() -> None:
    port = free_port("::1")
    assert port_is_free("::1", port)
    with socket.create_server(("::1", port), family=socket.AF_INET6):
        assert not port_is_free("::1", port)
    assert port_is_free("::1", port)


@needs_ipv6
def test_doctor_finds_the_thrift_port_on_ipv6_loopback_free(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port("::1")
    # A private data dir: the session's own Thrift Server (its pid file) would be "ours, elsewhere".
    on_ipv6 = settings.model_copy(
        update={"thrift_host": "::1", "thrift_port": port, "data_dir": tmp_path}
    )
    (thrift,) = services.select(on_ipv6, ["thrift"])

    check = doctor.check_port(thrift)

    assert check.ok, check.fix
    assert check.detail == "free on ::1 for thrift"


def test_ipv4_ports_are_still_checked() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port) and port_is_free("", port)
    with socket.create_server(("127.0.0.1", port)):
        assert not port_is_free("127.0.0.1", port)
        assert not port_is_free("localhost", port)  # localhost names 127.0.0.1 (too)
        assert not port_is_free("", port)  # every interface, as `bind` reads ""


def test_a_host_that_does_not_resolve_is_not_free() -> None:
    assert not port_is_free("no-such-host.invalid", free_port())
