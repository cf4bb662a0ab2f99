"""The devstack servers really start, really work, and really go away again."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import boto3
import httpx
import nats
import pytest
from imagegen_devstack import infra
from imagegen_devstack.infra import (
    ManagedProcess,
    NatsServer,
    PostgresNotFoundError,
    PostgresServer,
    S3Server,
    StartupError,
    free_port,
    tcp_is_open,
    wait_for_http,
    wait_for_tcp,
)


def wait_until_gone(pid: int, timeout: float = 5.0) -> None:
    """Wait until `pid` has exited; a zombie counts as exited (it holds no resources)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


def assert_port_free(port: int) -> None:
    assert not tcp_is_open("127.0.0.1", port), f"something still accepts on {port}"
    # SO_REUSEADDR as every server sets it: the stopped server may leave TIME_WAIT sockets.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


# --- generic process handling -----------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    assert_port_free(free_port())


def test_process_that_dies_during_startup_reports_its_log(tmp_path: Path) -> None:
    process = ManagedProcess("doomed", ["sh", "-c", "echo boom-marker; exit 3"], tmp_path / "log")
    process.start()
    with pytest.raises(StartupError, match=r"(?s)exited with code 3.*boom-marker"):
        process.wait_ready(lambda: False, timeout=5)
    assert not process.is_running


def test_process_that_never_gets_ready_times_out_with_log(tmp_path: Path) -> None:
    with ManagedProcess("slow", ["sh", "-c", "echo waiting; exec sleep 30"], tmp_path / "log") as p:
        with pytest.raises(StartupError, match=r"(?s)not ready after 0\.3s.*waiting"):
            p.wait_ready(lambda: False, timeout=0.3)
        assert p.is_running
    assert not p.is_running


def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    # The shell ignores TERM and has a child: both must be gone after stop().
    # mv: the pid file appears complete or not at all.
    script = (
        "trap '' TERM; sleep 30 & "
        f"echo $! > {child_pid_file}.tmp && mv {child_pid_file}.tmp {child_pid_file}; wait"
    )
    process = ManagedProcess("stubborn", ["sh", "-c", script], tmp_path / "log")
    process.start()
    process.wait_ready(child_pid_file.exists, timeout=5)
    started = time.monotonic()
    process.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert not process.is_running
    wait_until_gone(int(child_pid_file.read_text()))


def test_processes_are_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from imagegen_devstack.infra import ManagedProcess\n"
        "process = ManagedProcess('orphan', ['sleep', '30'], Path(sys.argv[1]))\n"
        "process.start()\n"
        "print(process.pid)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "log")],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    wait_until_gone(int(result.stdout))


def test_log_tail_skips_earlier_runs(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("old-run-output\n")
    process = ManagedProcess("fresh", ["sh", "-c", "echo new-run-output; exit 1"], log)
    process.start()
    with pytest.raises(StartupError) as failure:
        process.wait_ready(lambda: False, timeout=5)
    assert "new-run-output" in str(failure.value)
    assert "old-run-output" not in str(failure.value)


def test_missing_executable_is_a_startup_error(tmp_path: Path) -> None:
    process = ManagedProcess("ghost", [str(tmp_path / "no-such-binary")], tmp_path / "log")
    with pytest.raises(StartupError, match="cannot start ghost"):
        process.start()


def test_wait_helpers_time_out_on_closed_port() -> None:
    port = free_port()
    with pytest.raises(StartupError, match=f"TCP 127.0.0.1:{port}"):
        wait_for_tcp("127.0.0.1", port, timeout=0.2)
    with pytest.raises(StartupError, match="HTTP"):
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=0.2)


# --- Postgres ---------------------------------------------------------------------------------


def test_postgres_bindir_prefers_highest_debian_version(tmp_path: Path) -> None:
    for version in ("9.6", "13", "16"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        if version != "16":  # 16 is incomplete: only the client is installed
            for name in infra.POSTGRES_SERVER_BINARIES:
                (bindir / name).write_text("#!/bin/sh\n")
                (bindir / name).chmod(0o755)
    assert infra.find_postgres_bindir(tmp_path) == tmp_path / "13" / "bin"


def test_missing_postgres_without_root_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # hides pg_config
    monkeypatch.setattr(infra.os, "geteuid", lambda: 1000)
    with pytest.raises(PostgresNotFoundError, match="apt-get install postgresql"):
        infra.ensure_postgres_bindir(tmp_path / "empty")


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    data_dir = tmp_path_factory.mktemp("postgres") / "data"
    with PostgresServer(data_dir, free_port(), fast=True) as server:
        yield server


async def test_postgres_creates_databases_and_runs_queries(postgres: PostgresServer) -> None:
    assert postgres.dsn("app") == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/app"
    name = f"app_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    postgres.create_database(name)  # already there: no error
    connection = await asyncpg.connect(postgres.dsn(name, driver="postgresql"))
    try:
        assert await connection.fetchval("SELECT current_database()") == name
        assert await connection.fetchval("SHOW server_encoding") == "UTF8"
        assert await connection.fetchval("SHOW fsync") == "off"
        assert await connection.fetchval("SHOW max_connections") == "200"
        assert await connection.fetchval("SELECT 40 + $1::int", 2) == 42
    finally:
        await connection.close()


def test_postgres_start_is_idempotent(postgres: PostgresServer) -> None:
    postgres.start()
    assert postgres.is_running


async def test_postgres_keeps_data_across_restart_and_frees_port(tmp_path: Path) -> None:
    port = free_port()
    server = PostgresServer(tmp_path / "data", port, fast=True)
    with server:
        server.create_database("keep")
        connection = await asyncpg.connect(server.dsn("keep", driver="postgresql"))
        await connection.execute("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('x')")
        await connection.close()
    assert not server.is_running
    assert_port_free(port)
    with server:
        connection = await asyncpg.connect(server.dsn("keep", driver="postgresql"))
        assert await connection.fetchval("SELECT value FROM kept") == "x"
        await connection.close()
    assert_port_free(port)


def test_postgres_is_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    port = free_port()
    script = (
        "import sys; from pathlib import Path; from imagegen_devstack.infra import PostgresServer\n"
        "PostgresServer(Path(sys.argv[1]), int(sys.argv[2]), fast=True).start()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "data"), str(port)], check=True, timeout=60)
    assert_port_free(port)


def test_postgres_start_failure_quotes_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        server = PostgresServer(tmp_path / "data", blocker.getsockname()[1], fast=True)
        with pytest.raises(StartupError, match=r"(?s)did not start.*could not bind"):
            server.start()
    assert not server.is_running


def test_postgres_refuses_a_running_cluster_on_another_port(postgres: PostgresServer) -> None:
    other = PostgresServer(postgres.data_dir, free_port())
    with pytest.raises(StartupError, match="already runs on port"):
        other.start()


# --- NATS -------------------------------------------------------------------------------------


async def test_nats_jetstream_deduplicates_by_message_id(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats", free_port(), free_port())
    with server:
        assert server.url == f"nats://127.0.0.1:{server.port}"
        client = await nats.connect(server.url)
        try:
            jetstream = client.jetstream()
            await jetstream.add_stream(name="DEDUPE", subjects=["dedupe.>"])
            headers = {"Nats-Msg-Id": "job-1"}
            first = await jetstream.publish("dedupe.created", b"one", headers=headers)
            second = await jetstream.publish("dedupe.created", b"one", headers=headers)
            assert not first.duplicate
            assert second.duplicate
            info = await jetstream.stream_info("DEDUPE")
            assert info.state.messages == 1
        finally:
            await client.close()
    assert not server.is_running
    assert_port_free(server.port)
    assert_port_free(server.monitor_port)


def test_nats_start_fails_fast_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken_port = blocker.getsockname()[1]
        server = NatsServer(tmp_path / "nats", taken_port, free_port())
        with pytest.raises(StartupError, match="exited with code"):
            server.start()
    assert not server.is_running


# --- S3 ---------------------------------------------------------------------------------------


def test_s3_stores_objects_and_serves_presigned_gets(tmp_path: Path) -> None:
    server = S3Server(free_port(), log_path=tmp_path / "moto.log")
    with server:
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket="images")
        s3.put_object(Bucket="images", Key="a/b.png", Body=b"\x89PNG-bytes", Metadata={"job-id": "j1"})
        assert s3.head_object(Bucket="images", Key="a/b.png")["Metadata"] == {"job-id": "j1"}
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": "images", "Key": "a/b.png"}, ExpiresIn=60
        )
        response = httpx.get(url, trust_env=False)
        assert response.status_code == 200
        assert response.content == b"\x89PNG-bytes"
    assert not server.is_running
    assert_port_free(server.port)
