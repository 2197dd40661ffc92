"""Real servers on loopback for the scale-out tests and ``python -m eval load --servers``: a PostgreSQL
cluster, a Chroma server and ``fazhi serve`` app processes, each started as a child and stopped at the end.

- ``PostgresCluster``: ``initdb`` in a temporary folder, ``pg_ctl start`` on a free port; the binaries come
  from Debian's ``postgresql`` package (the Makefile's SYSTEM_PKGS); as root the cluster runs as the
  ``postgres`` user (PostgreSQL refuses to run as root);
- ``ChromaServer``: ``chroma run`` (the chromadb package's CLI) on a free port;
- ``AppServer``: ``python -m assistant.delivery.cli serve`` over a database URL and a Chroma URL, with its
  own local folder (BM25 cache, originals), ready when ``/api/health`` answers.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMA = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")


def pg_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``: the newest /usr/lib/postgresql/N/bin, else the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    ctl = shutil.which("pg_ctl")
    return Path(ctl).parent if ctl else None


def why_not() -> str | None:
    """Why no cluster can be started here (None: it can)."""
    if pg_bin() is None:
        return "PostgreSQL is not installed (initdb/pg_ctl not found; `make install` installs Debian's postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the cluster as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed (the 'postgres' extra: pip install -e '.[postgres]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    def __init__(self, max_connections: int = 300) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="fazhi-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "fazhi", "--auth=trust", "-E", "UTF8",
                   "--no-locale", "--no-sync"])
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections={max_connections} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60",
                   "start"])
        self.url = f"postgresql://fazhi@127.0.0.1:{self.port}/fazhi"
        import psycopg

        with psycopg.connect(f"postgresql://fazhi@127.0.0.1:{self.port}/postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE fazhi")

    def _run(self, cmd: list[str]) -> None:
        res = subprocess.run(self.as_user + cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd[:2])} failed ({res.returncode}): {res.stderr[-2000:]}\n{log}")

    def connect(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def new_database(self, name: str) -> str:
        """Another empty database on this cluster (one knowledge base per database); its URL."""
        with self.connect() as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://fazhi@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class ChromaServer:
    """``chroma run --path DIR --host 127.0.0.1 --port N`` as a child process."""

    def __init__(self, path: Path) -> None:
        if CHROMA is None:
            raise RuntimeError("the chroma CLI (chromadb package) is not installed")
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = path.parent / f"chroma-{self.port}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, ANONYMIZED_TELEMETRY="False", CHROMA_TELEMETRY="False")
        self.proc = subprocess.Popen([CHROMA, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("chroma run did not answer within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self):
        import chromadb

        return chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                   settings=chromadb.Settings(anonymized_telemetry=False))


class AppServer:
    """One ``fazhi serve`` process (the web app and its API) on a free loopback port."""

    def __init__(self, folder: Path, database_url: str | None, chroma_url: str | None, corpus: Path | None = None,
                 name: str = "app", env: dict | None = None, startup_timeout: float = 300.0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.folder.parent / f"{name}-{self.port}.log"
        full = dict(os.environ, FAZHI_KB=str(self.folder), FAZHI_PORT=str(self.port), GRADIO_ANALYTICS_ENABLED="False",
                    HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1")
        full.pop("FAZHI_AUTH", None)
        if database_url:
            full["FAZHI_DATABASE_URL"] = database_url
        if chroma_url:
            full["FAZHI_CHROMA_URL"] = chroma_url
        if corpus:
            full["FAZHI_CORPUS"] = str(corpus)
        full.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant.delivery.cli", "serve"], cwd=ROOT, env=full,
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=3) as r:
                    if json.loads(r.read()).get("status") == "ok":
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{name} did not answer within {startup_timeout:.0f} s: "
                           f"{self.log.read_text(errors='replace')[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs (a crashed machine, an OOM kill)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
