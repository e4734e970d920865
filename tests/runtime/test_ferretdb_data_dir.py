"""A DATA_DIR that FerretDB cannot take is refused before anything starts, naming DATA_DIR.

ingestion/ferretdb/main.go passes the SQLite folder to FerretDB as the URL "file:<folder>/";
Go's url.Parse ends the path at '#' or '?' and reads '%' as an escape, and FerretDB then exits
at start-up with `expected path ending with "/"`, which names neither DATA_DIR nor a fix.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ingestion import ferretdb_server
from lakehouse import services
from lakehouse.settings import Settings
from lakehouse.supervisor import ServiceError, free_port, port_is_free


@pytest.fixture
def fake_binary(tmp_path: Path) -> tuple[Path, Path]:
    """(an executable standing in for FerretDB, the file it creates if it is ever run)."""
    ran = tmp_path / "fake-ferretdb-ran"
    binary = tmp_path / "fake-ferretdb"
    binary.write_text(f"#!/bin/sh\ntouch '{ran}'\nsleep 30\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary, ran


def _settings(data_dir: Path, binary: Path) -> Settings:
    return Settings(
        _env_file=None, data_dir=data_dir, mongodb_uri="", ferretdb_bin=binary,
        ferretdb_port=free_port(),
    )


@pytest.mark.parametrize("char", ["#", "?", "%"])
def test_data_dir_with_url_characters_is_refused_and_nothing_starts(
    tmp_path: Path, fake_binary: tuple[Path, Path], char: str
) -> None:
    binary, ran = fake_binary
    data_dir = tmp_path / f"my{char}41data"
    settings = _settings(data_dir, binary)

    with pytest.raises(ServiceError) as caught:
        ferretdb_server.build_command(settings)
    message = str(caught.value)
    assert f"DATA_DIR ({data_dir}) contains {char!r}" in message
    assert "Choose a DATA_DIR without #, ? or %" in message

    (service,) = services.select(settings, ["ferretdb"])
    with pytest.raises(ServiceError, match="DATA_DIR"):
        services.start(service)
    assert not service.process.pid_file.exists()
    assert not service.process.log_file.exists()  # written just before a process starts
    assert not ran.exists()
    assert port_is_free(service.host, service.port)


def test_data_dir_with_spaces_and_quotes_is_passed_as_it_is(
    tmp_path: Path, fake_binary: tuple[Path, Path]
) -> None:
    binary, _ran = fake_binary
    data_dir = tmp_path / "My Projects" / "o'neil josé"
    command = ferretdb_server.build_command(_settings(data_dir, binary))
    assert command[command.index("-sqlite-dir") + 1] == str(data_dir / "ferretdb")
