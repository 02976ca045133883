"""``ragbot serve`` in a child process on a loopback port, for the load benchmark and the tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .chroma_server import free_port, stop_process


class ServeProcess:
    """``ragbot serve`` over ``corpus`` (indexed at ``persist`` or in a Chroma server, by ``env``)."""

    def __init__(self, corpus: Path, persist: Path, *, port: int | None = None, env: dict | None = None,
                 args: tuple[str, ...] = ("--no-page",), log: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAGBOT_CORPUS_DIR": str(corpus), "RAGBOT_PERSIST_DIR": str(persist),
                    "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
                    **(env or {})}
        self.args = args
        self.log = log or Path(persist).with_name(f"serve-{self.port}.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> "ServeProcess":
        """Start and wait until it is up and its first-start indexing is done."""
        cmd = [sys.executable, "-m", "rag.cli", "serve", "--port", str(self.port), *self.args]
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ragbot serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if not json.load(r)["indexing"]:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"ragbot serve did not come up in {timeout:.0f} s: {self.log.read_text()[-2000:]}")

    def rss_mb(self) -> float:
        """Resident memory of the server process (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        stop_process(self.proc, grace=15)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "ServeProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
