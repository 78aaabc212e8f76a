"""Fixtures for the hand-over tests: local servers on 127.0.0.1, a fake clock, a hand-over."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator

import pytest
from handover_helpers import (
    PROXY_VARIABLES,
    FakeClock,
    RecordingHTTPServer,
    RecordingSMTPHandler,
    SMTPServer,
    TLSFiles,
    make_handover,
    make_tls_files,
    start_smtp_controller,
)

from leadscore.handover import HandOver


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test request on 127.0.0.1, whatever proxy the environment names."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def handover() -> HandOver:
    return make_handover()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A self-signed certificate for localhost and 127.0.0.1, made for this test run."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def http_server() -> Iterator[RecordingHTTPServer]:
    server = RecordingHTTPServer()
    yield server
    server.close()


@pytest.fixture
def start_http_server() -> Iterator[Callable[..., RecordingHTTPServer]]:
    """Start servers on demand, on a chosen port or over TLS; all are closed afterwards."""
    servers: list[RecordingHTTPServer] = []

    def start(port: int = 0, tls: ssl.SSLContext | None = None) -> RecordingHTTPServer:
        server = RecordingHTTPServer(port, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def start_smtp_server(tls_files: TLSFiles) -> Iterator[Callable[..., SMTPServer]]:
    """Start aiosmtpd servers on 127.0.0.1 that share one recording handler; all stop afterwards."""
    handler = RecordingSMTPHandler()
    servers: list[SMTPServer] = []

    def start(mode: str = "plain") -> SMTPServer:
        server = start_smtp_controller(handler, mode, tls_files)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.controller.stop()
