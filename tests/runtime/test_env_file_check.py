"""`lakehouse doctor` fails when .env holds a credential and other users can read it:
`cp .env.example .env` with the usual umask (022) gives mode 644."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.doctor import check_env_file, credentials_in

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _env_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_every_credential_setting_counts(tmp_path: Path) -> None:
    text = (
        "MONGODB_URI=mongodb+srv://u:pw@cluster.example.net/\n"
        "SPOTIFY_CLIENT_ID=abc\nSPOTIFY_CLIENT_SECRET=def\nDREMIO_PASSWORD=ghi\n"
        "MONGO_ROOT_PASSWORD=0123abcd\nLAKE_ROOT=/tmp/lake\nDREMIO_USER=admin\n"
    )
    assert credentials_in(_env_file(tmp_path, text, 0o600)) == [
        "DREMIO_PASSWORD", "MONGODB_URI", "MONGO_ROOT_PASSWORD",
        "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET",
    ]  # fmt: skip


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=lambda mode: f"{mode:o}")
def test_a_readable_env_file_with_a_secret_fails_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = _env_file(tmp_path, "SPOTIFY_CLIENT_SECRET=s3cret-value\n", mode)

    check = check_env_file(path)

    assert check.ok is False
    assert "SPOTIFY_CLIENT_SECRET" in check.detail and f"mode {mode:o}" in check.detail
    assert check.fix == f"Make it private: chmod 600 {path}"
    assert "s3cret-value" not in check.detail + check.fix


def test_a_private_env_file_passes(tmp_path: Path) -> None:
    assert check_env_file(_env_file(tmp_path, "SPOTIFY_CLIENT_SECRET=x\n", 0o600)).ok is True


def test_a_readable_env_file_without_credentials_passes(tmp_path: Path) -> None:
    """The copied example sets no credential (every secret is empty or commented out)."""
    path = _env_file(tmp_path, EXAMPLE.read_text(), 0o644)
    assert credentials_in(path) == []
    assert check_env_file(path).ok is True


def test_no_env_file_passes(tmp_path: Path) -> None:
    assert check_env_file(tmp_path / ".env").ok is True
