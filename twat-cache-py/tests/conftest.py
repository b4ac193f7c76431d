"""Fixtures: a fresh cache root per test (TWAT_CACHE_DIR), and a real redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    """A private cache root: disk caches open their folders here on first call."""
    root = tmp_path / "root"
    monkeypatch.setenv("TWAT_CACHE_DIR", str(root))
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A redis-server on 127.0.0.1 for this session (skipped, loudly, without one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        print("\n*** SKIPPING Redis tests: no redis-server binary on PATH ***", file=sys.stderr)
        pytest.skip("no redis-server binary on PATH (CI installs one)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        if _ping(port):
            break
        time.sleep(0.025)
    else:
        proc.kill()
        pytest.fail("redis-server did not answer PING")
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
