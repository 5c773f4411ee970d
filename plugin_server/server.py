"""Wiring: the gRPC server with the service, health, reflection, auth; start and stop."""

from __future__ import annotations

import errno
import fcntl
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from plugin_server import auth, paths
from plugin_server.client import MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES
from plugin_server.events import EventHub
from plugin_server.inline import inline_timelines_dir
from plugin_server.jobs import JobStore, downgrade
from plugin_server.service import V2AService
from plugin_server.worker import JobRunner, Pipeline
from v2a.contracts import Generator
from v2a.v1 import v2a_service_pb2, v2a_service_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = v2a_service_pb2.DESCRIPTOR.services_by_name["V2AService"].full_name
DEFAULT_PORT = 50051
PRUNE_EVERY_SECONDS = 3600.0
STOP_POLL_SECONDS = 0.5  # how soon `serve` notices SIGTERM / SIGINT
#: Printed (one line, JSON after it) once the server accepts calls; harnesses wait for it.
READY_PREFIX = "V2A_READY "
#: Inline timelines and returned timeline bytes exceed gRPC's 4 MB (the sizes: plugin_server.client).
#: What a call sends is read before the service sees it (a caller without the token has none
#: read: plugin_server.auth): the limit is what the largest real request needs, not more.
MESSAGE_SIZE_OPTIONS = [("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                        ("grpc.max_send_message_length", MAX_RESPONSE_BYTES)]
#: gRPC binds with SO_REUSEPORT by default: a second server on a taken port would start and the
#: kernel would share the panels' connections between two job stores.
SERVER_OPTIONS = [*MESSAGE_SIZE_OPTIONS, ("grpc.so_reuseport", 0)]
#: RPC threads WatchJob streams may never take: with every thread held by a stream, every other
#: call (GetJob, CancelJob, the health check) waited for one to end and timed out.
RESERVED_RPC_THREADS = 16


def _cannot_listen(host: str, port: int) -> bool:
    """Whether nothing can listen on host:port: another program listens there, or no address
    it names is this machine's. Asked before gRPC tries, whose failure logs a line of its own
    ("E1202 … add_port.cc:83] Failed to add port to server: …") before v2a's message says the
    same; silencing that (GRPC_VERBOSITY) works only before grpc is imported, for every log
    line. False where it cannot tell: gRPC tries, and says why it failed."""
    if port == 0:
        return False
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            # As gRPC binds: a port whose last connections are closing (TIME_WAIT) is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    continue
                return False
            return False  # gRPC takes the port if any one of its addresses is free
    return bool(addresses)


def default_state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "v2a"


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int | None = None  # None: DEFAULT_PORT unless only a socket is asked for; 0: any
    uds: str = ""  # a Unix domain socket path (no token asked there: the file is 0600)
    concurrency: int = 1
    queue_size: int = 16
    state_dir: Path = field(default_factory=default_state_dir)
    generator: str = "default"
    output_roots: tuple[str, ...] = ()
    token_file: Path | None = None
    grace_seconds: float = 10.0  # on SIGTERM: how long running jobs may finish before requeue
    rpc_threads: int = 128  # each WatchJob stream holds one, up to rpc_threads - RESERVED_RPC_THREADS
    ws_port: int | None = None  # the WebSocket/JSON bridge for UXP panels; None: off, 0: any
    keep_jobs_days: float = 30.0  # ended jobs older than this are forgotten; 0: kept forever

    def __post_init__(self) -> None:
        # Absolute: a relative one named inline timelines' copies (`Job.timeline_path`, what
        # their messages say) from the folder the server was started in, which panels know not.
        self.state_dir = Path(os.path.abspath(self.state_dir))


def _lock_state_dir(state_dir: Path):
    """One server per state dir: a second one would rerun the first one's running jobs. The
    kernel drops the flock when the process dies, kill -9 included."""
    handle = open(state_dir / "server.lock", "a+")  # noqa: SIM115 - held for the server's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise OSError(f"another v2a server ({holder}) uses the state dir {state_dir}; stop it "
                      "or pass another --state-dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def downgrade_store(state_dir: Path) -> int:
    """The state dir's job store rewritten for a v2a before results were compressed (jobs.downgrade),
    with no server on it; returns how many results were rewritten."""
    store = state_dir / "jobs.sqlite3"
    if not store.is_file():
        raise OSError(f"no job store in {state_dir}")
    lock = _lock_state_dir(state_dir)
    try:
        return downgrade(store)
    finally:
        lock.close()


def load_generator(spec: str) -> Generator:
    """A registry spec (model.generators), or `py:module:factory` for a generator of your own."""
    if spec.startswith("py:"):
        module, _, attr = spec[3:].partition(":")
        return getattr(importlib.import_module(module), attr)()
    from model.generators import load_generator as from_registry

    return from_registry(spec)


def default_pipeline() -> Pipeline:
    import v2a.pipeline

    return v2a.pipeline


class RunningServer:
    def __init__(self, config: ServerConfig, pipeline: Pipeline | None = None,
                 generator: Generator | None = None):
        self.config = config
        # It holds every job's request (prompts, timeline and media paths) and the timelines sent
        # inline: the user's alone, like the token (repaired if it was made or left looser).
        config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(config.state_dir, 0o700)
        self._lock_file = _lock_state_dir(config.state_dir)
        self.store = JobStore(config.state_dir / "jobs.sqlite3")
        self.events = EventHub()
        self.runner = JobRunner(
            self.store, pipeline or default_pipeline(), generator or load_generator(config.generator),
            self.events, paths.normalize_roots(config.output_roots), config.concurrency,
            config.queue_size, inline_dir=inline_timelines_dir(config.state_dir),
        )
        self.token_file = config.token_file or auth.default_token_path()
        self.token = auth.load_or_create_token(self.token_file)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.rpc_threads, thread_name_prefix="v2a-rpc"),
            interceptors=[auth.TokenAuthInterceptor(self.token, self.token_file)],
            options=SERVER_OPTIONS,
        )
        self.service = V2AService(self.runner, self.events, config.state_dir,
                                  max_watchers=max(1, config.rpc_threads - RESERVED_RPC_THREADS))
        v2a_service_pb2_grpc.add_V2AServiceServicer_to_server(self.service, self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
        self.port = self._bind()
        self.bridge = None
        self._stopped = threading.Event()

    def _bind(self) -> int | None:
        config = self.config
        port = None
        if config.uds:
            uds = Path(config.uds)
            uds.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            uds.unlink(missing_ok=True)  # a stale socket of a killed server
            self.server.add_insecure_port(f"unix:{uds}")
        if config.port is not None or not config.uds:
            wanted = DEFAULT_PORT if config.port is None else config.port
            try:
                port = (0 if _cannot_listen(config.host, wanted)
                        else self.server.add_insecure_port(f"{config.host}:{wanted}"))
            except RuntimeError:  # grpc's "Failed to bind"
                port = 0
            if port == 0:
                raise OSError(f"cannot listen on {config.host}:{wanted}: the port is in use or "
                              "the address is not this machine's (try --port 0)")
            # Once the port is its: said before, it came above a refusal to listen there.
            if config.host not in ("127.0.0.1", "localhost", "::1"):
                log.warning("listening on %s: reachable from other machines (token required)",
                            config.host)
        return port

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}" if self.port else ""

    def start(self) -> None:
        requeued = self.runner.start()  # first: it removes the inline copies of ended jobs
        if requeued:
            log.info("resuming %d queued jobs", len(requeued))
        self.prune_jobs()
        if self.config.keep_jobs_days > 0:
            threading.Thread(target=self._prune_periodically, name="v2a-prune", daemon=True).start()
        self.server.start()
        if self.config.uds:
            os.chmod(self.config.uds, 0o600)
        if self.config.ws_port is not None:
            from plugin_server.ws_bridge import WebSocketBridge

            target = self.address or f"unix:{self.config.uds}"
            self.bridge = WebSocketBridge(target, self.token, self.config.host, self.config.ws_port)
            self.bridge.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def prune_jobs(self) -> list[str]:
        """Forget jobs that ended more than `keep_jobs_days` ago (JobStore.prune says which stay);
        the files they wrote stay. The inline timelines they were sent went when they ended."""
        if self.config.keep_jobs_days <= 0:
            return []
        pruned = self.store.prune(time.time() - self.config.keep_jobs_days * 86400)
        if pruned:
            log.info("forgot %d jobs that ended more than %g days ago", len(pruned),
                     self.config.keep_jobs_days)
        return pruned

    def _prune_periodically(self) -> None:
        while not self._stopped.wait(PRUNE_EVERY_SECONDS):
            try:
                self.prune_jobs()
            except Exception:  # a failed cleanup must not end the server; the next one retries
                log.exception("pruning old jobs failed")

    def stop(self, grace_seconds: float | None = None) -> None:
        """Graceful: NOT_SERVING, no new jobs, running ones finish or are requeued."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        if self.bridge is not None:
            self.bridge.stop()
        grace = self.config.grace_seconds if grace_seconds is None else grace_seconds
        self.runner.stop(grace)
        self.server.stop(grace=2).wait()
        self.service.end_watches(timeout=2.0)  # they read the store: before it closes
        self.store.close()
        self._lock_file.close()  # releases the flock
        if self.config.uds:
            Path(self.config.uds).unlink(missing_ok=True)

    def ready_line(self) -> str:
        info = {"address": self.address, "uds": self.config.uds, "token_file": str(self.token_file),
                "ws": self.bridge.url if self.bridge else "", "pid": os.getpid()}
        return READY_PREFIX + json.dumps(info)


def serve(config: ServerConfig) -> int:
    """Run until SIGTERM or SIGINT; the `v2a serve` command."""
    server = RunningServer(config)
    # A handler runs in the main thread at whatever line it reached, so it only appends to a
    # list: an Event's set() waited forever for the lock the interrupted Event.wait held.
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    server.start()
    where = " and ".join(x for x in (server.address, config.uds and f"unix:{config.uds}",
                                     server.bridge and server.bridge.url) if x)
    log.info("v2a server on %s (generator %s, token in %s, jobs in %s)", where, config.generator,
             server.token_file, config.state_dir)
    print(server.ready_line(), flush=True)
    while not stopping:
        time.sleep(STOP_POLL_SECONDS)
    log.info("stopping: running jobs get %.0f s to finish, then are requeued", config.grace_seconds)
    server.stop()
    sys.stdout.flush()
    return 0
