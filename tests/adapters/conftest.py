"""A TLS certificate for the answer clients' loopback servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scripted_http import self_signed


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1, its key beside it."""
    return self_signed(tmp_path_factory.mktemp("tls") / "cert.pem")
