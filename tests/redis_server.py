"""A redis-server of a test's own, on a free port: started, hung (SIGSTOP), killed (SIGKILL) and
restarted by pid, for tests of what the platform does when Redis (cache or broker) goes away."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import closing

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, workdir=None):
        self.port = free_port()
        self.workdir = workdir or tempfile.mkdtemp(prefix="redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port) and wait until it answers."""
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.answers():
                return
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("redis-server did not start")

    def hang(self) -> None:
        """SIGSTOP: connections stay open (and the kernel still accepts new ones), nothing answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL (also ends a stopped one), and wait until it is gone."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        assert not self.answers()

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
        except redis.ConnectionError:
            return False

    def keys(self) -> list[bytes]:
        import redis

        return list(redis.Redis(port=self.port).scan_iter(count=1000))
