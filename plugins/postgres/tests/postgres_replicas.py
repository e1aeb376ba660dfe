"""Several `assessio-connect run` processes behind one round-robin balancer, for the replica
acceptance test and `benchmarks/postgres.py`.

`Balancer` forwards each HTTP request (not each connection: Assessio keeps connections alive)
to the next replica, and to the one after when a replica refuses the connection, as a reverse
proxy with passive health checks does. `ReplicaProcess` runs one daemon with JSON logs.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import attrs
import urllib3
from postgres_test_db import wait_until

from assessio_connect.reference import ReferenceAts
from assessio_connect.reference._connector import SIGNATURE_HEADER, sign
from assessio_connect.runtime._wsgi import read_body
from assessio_connect.sandbox import DeliverySchedule, Organisation, Sandbox
from assessio_connect.testing import BackgroundServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["JOB", "RUN", "Balancer", "ReplicaProcess", "ReplicaWorld", "Tenant"]

RUN = [sys.executable, "-m", "assessio_connect", "run"]
JOB = {"id": "job-42", "title": "Data Analyst"}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)
_MAX_BODY = 4 * 1024 * 1024
_EVENT_KEY = '"event": "'


class Balancer:
    """A round-robin HTTP reverse proxy on 127.0.0.1; `hits[backend]` counts forwarded requests
    by path prefix (e.g. `hits["http://127.0.0.1:1234"]["/results/"]`)."""

    def __init__(self, backends: Sequence[str], *, threads: int = 16) -> None:
        self.backends = list(backends)
        self._next = itertools.cycle(range(len(self.backends)))
        self._lock = threading.Lock()
        self.hits: dict[str, collections.Counter[str]] = {
            backend: collections.Counter() for backend in self.backends
        }
        self._http = urllib3.PoolManager(
            maxsize=threads, retries=False, timeout=urllib3.Timeout(connect=2.0, read=30.0)
        )
        self.server = BackgroundServer(self._app, "127.0.0.1", 0, threads=threads)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Balancer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self._http.clear()

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        path = str(environ.get("PATH_INFO") or "/")
        query = str(environ.get("QUERY_STRING") or "")
        target = path + (f"?{query}" if query else "")
        body = read_body(environ, _MAX_BODY)
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].lower().replace("_", "-") not in _HOP_BY_HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = str(environ["CONTENT_TYPE"])
        kind = "/" + path.strip("/").split("/", 1)[0] + "/"
        with self._lock:
            first = next(self._next)
        for offset in range(len(self.backends)):
            backend = self.backends[(first + offset) % len(self.backends)]
            try:
                response = self._http.request(
                    method, backend + target, body=body, headers=headers, redirect=False
                )
            except urllib3.exceptions.HTTPError:
                continue  # that replica is down: the next one takes the request
            with self._lock:
                self.hits[backend][kind] += 1
            reply = [
                (name, value)
                for name, value in response.headers.items()
                if name.lower() not in _HOP_BY_HOP
            ]
            data = response.data
            reply.append(("Content-Length", str(len(data))))
            start_response(f"{response.status} {response.reason or ''}".strip(), reply)
            return [data]
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"no replica answered\n"]


class ReplicaProcess:
    """`python -m assessio_connect run --log-format json` with its output collected."""

    def __init__(self, config: Path, *, env: dict[str, str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSIO_")}
        self.config = config
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*RUN, "--config", str(config), "--log-format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**base, **(env or {})},
            cwd=config.parent,
        )
        self.lines: list[str] = []
        self.events: collections.Counter[str] = collections.Counter()
        self._cond = threading.Condition()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            # Thousands of lines a second: find the event name without parsing the JSON.
            start = line.find(_EVENT_KEY)
            end = line.find('"', start + len(_EVENT_KEY)) if start >= 0 else -1
            event = line[start + len(_EVENT_KEY) : end] if end >= 0 else "unparsed"
            with self._cond:
                self.lines.append(line)
                self.events[event] += 1
                self._cond.notify_all()

    def wait_for(self, event: str, timeout: float = 30.0) -> None:
        """Wait until the daemon logged `event` (fails early if the process ended)."""

        def seen() -> bool:
            if self.proc.poll() is not None and not self.events[event]:
                raise AssertionError(
                    f"the daemon exited ({self.proc.returncode}) before {event}: "
                    + "".join(self.lines[-10:])
                )
            return self.events[event] > 0

        wait_until(seen, timeout, what=f"log event {event}")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.kill9()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(self.lines)


@attrs.define
class Tenant:
    """One tenant: its own emulator (so results arrive on parallel streams) and fake ATS."""

    name: str
    sandbox: Sandbox
    ats: ReferenceAts
    push: bool
    """Whether its ATS pushes invitation events (otherwise the daemon polls it)."""
    signed: bool
    """Whether its results carry a `Signature` (besides the API key)."""
    secrets: dict[str, str]

    def invite(self, application_id: str, events_url: str, http: urllib3.PoolManager) -> None:
        """Queue an invitation in the ATS; a push-style ATS also POSTs it as a signed event."""
        number = application_id.rpartition("-")[2]
        body = self.ats.add_invitation(
            application_id,
            job=JOB,
            candidate={"id": f"c{number}", "email": f"c{number}@{self.name}.example"},
        )
        if not self.push:
            return
        data = json.dumps(body, separators=(",", ":")).encode()
        response = http.request(
            "POST",
            f"{events_url}/connectors/{self.name}/events",
            body=data,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(data, self.secrets["ats_webhook"]),
            },
        )
        assert response.status == 202, f"{application_id}: {response.status} {response.data!r}"

    def written(self) -> int:
        """How many applications have their result in the ATS (writes that changed one)."""
        return sum(w.changed for w in self.ats.writes)


class ReplicaWorld:
    """`count` tenants, alternately push- and pull-style (all push-style unless `pull`), each
    with its own emulator and ATS; `config()` writes one replica's TOML, secrets in files."""

    def __init__(
        self,
        tmp: Path,
        count: int = 4,
        *,
        completion_delay: float | None = 0.0,
        pull: bool = True,
    ) -> None:
        self.tmp = tmp
        self.tenants: list[Tenant] = []
        self._stack = contextlib.ExitStack()
        schedule = DeliverySchedule(first_retry=0.05, max_interval=0.5, horizon=300.0)
        try:
            for index in range(count):
                name = f"t{index}"
                push, signed = index % 2 == 0 or not pull, index % 2 == 1
                values = {
                    key: f"{name}-{key}-{secrets.token_hex(8)}"
                    for key in (
                        "provider_key",
                        "integrator_secret",
                        "result_key",
                        "result_signing",
                        "ats_token",
                        "ats_webhook",
                    )
                }
                organisation = Organisation(
                    provider_key=values["provider_key"],
                    integrator_secret=values["integrator_secret"],
                    result_api_key=values["result_key"],
                    result_signing_secret=values["result_signing"] if signed else None,
                )
                sandbox = self._stack.enter_context(
                    Sandbox([organisation], completion_delay=completion_delay, delivery=schedule)
                )
                ats = self._stack.enter_context(
                    ReferenceAts(
                        api_token=values["ats_token"],
                        webhook_secret=values["ats_webhook"] if push else None,
                    )
                )
                self.tenants.append(Tenant(name, sandbox, ats, push, signed, values))
                for key, value in values.items():
                    secret = tmp / "secrets" / f"{name}-{key}"
                    secret.parent.mkdir(exist_ok=True)
                    secret.write_text(value + "\n")
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> ReplicaWorld:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def secret_values(self) -> list[str]:
        return [value for tenant in self.tenants for value in tenant.secrets.values()]

    def written(self) -> int:
        return sum(tenant.written() for tenant in self.tenants)

    def config(
        self,
        path: Path,
        *,
        port: int,
        public_url: str,
        store_url: str,
        workers: int = 2,
        lease: float = 2.0,
        page_size: int = 500,
    ) -> Path:
        """Write one replica's configuration (they differ only in `port`)."""
        parts = [
            f"""
[server]
listen = "127.0.0.1:{port}"
public_url = "{public_url}"

[store]
url = "{store_url}"

[delivery]
workers = {workers}
first_delay = 0.05
max_delay = 0.5
lease = {lease}
"""
        ]
        for tenant in self.tenants:
            n = tenant.name
            signing = (
                f'\nsigning_secrets = [{{ file = "secrets/{n}-result_signing" }}]'
                if tenant.signed
                else ""
            )
            style = (
                f'webhook_secret = {{ file = "secrets/{n}-ats_webhook" }}'
                if tenant.push
                else f"poll = true\npoll_interval = 0.2\npage_size = {page_size}"
            )
            parts.append(
                f"""
[tenants.{n}]
base_url = "{tenant.sandbox.url}"
provider_key = {{ file = "secrets/{n}-provider_key" }}
integrator_secret = {{ file = "secrets/{n}-integrator_secret" }}

[tenants.{n}.webhook]
api_keys = [{{ file = "secrets/{n}-result_key" }}]{signing}

[tenants.{n}.assessment]
lens = "General Performance"
locale = "en-GB"

[tenants.{n}.ats]
kind = "reference"
base_url = "{tenant.ats.url}"
api_token = {{ file = "secrets/{n}-ats_token" }}
{style}
"""
            )
        path.write_text("".join(parts))
        return path
