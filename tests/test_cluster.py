"""Replicas behind a real load balancer (tests/cluster.py: PgBouncer, three `authsvc
serve`, two `authsvc worker`, HAProxy checking /readyz), under a steady session-check
load: a replica killed loses at most its in-flight requests and leaves the rotation
within HAProxy's check interval; a replica stopped with SIGTERM finishes its requests
(0 failures); a limit holds across the replicas."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from authsvc.context import ServiceContext
from authsvc.models import metadata
from tests.cluster import CHECK_INTERVAL_MS, HAPROXY, SECRET_KEY, SHUTDOWN_DRAIN_S, Cluster
from tests.conftest import make_settings, plain_dsn
from tests.delivery.fakes import SmtpSink, start_smtp
from tests.delivery.helpers import eventually, queue, states
from tests.factories import insert_session
from tests.pooler import BINARY

NEEDS = "pgbouncer or haproxy is not installed (Debian: apt-get install pgbouncer haproxy)"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BINARY is None or HAPROXY is None,
        reason=NEEDS,
    ),
]

LOAD_CONNECTIONS = 8
RATE_LIMIT = 10
LEASED_AT_ONCE = 32  # AUTHSVC_DELIVERY_CONCURRENCY: what one worker has in hand at most


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    """The mail server the workers send to; each message takes it a while to accept, so
    a worker killed mid-batch has messages in hand."""
    sink = SmtpSink(delay=0.2)
    controller = start_smtp(sink)
    yield sink, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def cluster(database_url: str, smtp: tuple[SmtpSink, int]) -> Iterator[Cluster]:
    running = Cluster(database_url)
    running.extra_env = {
        "AUTHSVC_EMAIL_PROVIDER": "smtp",
        "AUTHSVC_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}",
        "AUTHSVC_SUPPORT_KEY_RATE_LIMIT": str(RATE_LIMIT),
        # A killed worker's messages go to the other one this soon (a send is cut off at
        # half the lease).
        "AUTHSVC_DELIVERY_LEASE": "6",
        "AUTHSVC_SMS_TIMEOUT": "2",
        "AUTHSVC_DELIVERY_CONCURRENCY": str(LEASED_AT_ONCE),
    }
    try:
        running.start()
        yield running
    finally:
        running.stop()
        asyncio.run(_empty_tables(database_url))  # as the `ctx` fixture leaves them


async def _empty_tables(database_url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.execute(f"TRUNCATE {tables} CASCADE")
    finally:
        await connection.close()


class Load:
    """GET /session through HAProxy from LOAD_CONNECTIONS clients until stopped; every
    answer (or transport error) with the time it came and the replica that gave it."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.answers: list[tuple[float, str, str]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _client(self) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            while not self._stop.is_set():
                try:
                    answer = await http.get("/session", headers=headers)
                    status, replica = str(answer.status_code), answer.headers.get("x-replica", "")
                except httpx.TransportError as error:
                    status, replica = type(error).__name__, ""
                self.answers.append((time.monotonic(), status, replica))

    def __enter__(self) -> Load:
        self._tasks = [asyncio.create_task(self._client()) for _ in range(LOAD_CONNECTIONS)]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def failures(self, after: float = 0.0) -> list[tuple[float, str]]:
        return [(at, status) for at, status, _ in self.answers if at >= after and status != "200"]

    def served_by(self, replica: str) -> list[float]:
        return [at for at, status, by in self.answers if by == replica and status == "200"]


def _restart(cluster: Cluster, index: int) -> None:
    cluster.replicas[index] = cluster._serve(cluster.ports[index])
    cluster._until_ready(f"http://127.0.0.1:{cluster.ports[index]}")
    time.sleep(2 * CHECK_INTERVAL_MS / 1000 + 0.5)  # HAProxy's `rise 2`


async def test_a_killed_replica_loses_only_its_in_flight_requests(
    cluster: Cluster, database_url: str
) -> None:
    token = await insert_session(database_url, "kill-load")
    with Load(cluster.url, token) as load:
        await asyncio.sleep(1.5)
        killed_at = time.monotonic()
        cluster.replicas[0].send_signal(signal.SIGKILL)
        await asyncio.sleep(3)
        await load.stop()
    assert len(load.answers) > 200  # the load really ran
    # At most what was in flight on the killed replica fails...
    assert len(load.failures()) <= LOAD_CONNECTIONS, load.failures()
    # ...and once HAProxy's checks have seen it gone (2 × interval), nothing fails.
    out_of_rotation = killed_at + 2 * CHECK_INTERVAL_MS / 1000 + 0.5
    assert not load.failures(after=out_of_rotation)
    await asyncio.to_thread(_restart, cluster, 0)


async def test_a_replica_stopped_with_sigterm_finishes_its_requests(
    cluster: Cluster, database_url: str
) -> None:
    """SIGTERM: the replica's /readyz turns 503 while it still serves (the drain), HAProxy's
    checks take it out of rotation, then it finishes what it has and exits: 0 failures."""
    token = await insert_session(database_url, "drain-load")
    with Load(cluster.url, token) as load:
        await asyncio.sleep(1.5)
        stopping = cluster.replicas[1]
        stopping.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        await eventually(lambda: _readyz_is(cluster.ports[1], 503), within=1)  # the drain
        code = await asyncio.to_thread(stopping.wait, 30)
        exited = time.monotonic()
        await asyncio.sleep(1.5)
        await load.stop()
    assert code == 0
    assert exited - terminated >= SHUTDOWN_DRAIN_S
    assert len(load.answers) > 200
    assert load.failures() == []
    served = load.served_by("r1")
    assert [at for at in served if at > terminated], "it served on while draining"
    # HAProxy stopped sending it requests within its checks, before it stopped accepting.
    assert max(served) < terminated + SHUTDOWN_DRAIN_S, max(served) - terminated
    await asyncio.to_thread(_restart, cluster, 1)


async def test_a_support_key_rate_holds_across_the_replicas(cluster: Cluster) -> None:
    key = cluster.cli("support-keys", "create", "--name", f"desk-{uuid.uuid4().hex[:6]}").strip()
    headers = {"authorization": f"Bearer {key}"}
    body = {"customer": "nobody-here", "code": "123456"}
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as http:
        answers = await asyncio.gather(
            *(http.post("/auth-codes/verify", json=body, headers=headers) for _ in range(30))
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == RATE_LIMIT, statuses  # round robin over 3 replicas
    assert statuses.count(429) == 30 - RATE_LIMIT


def test_every_replica_served_through_haproxy(cluster: Cluster) -> None:
    assert [process.poll() for process in cluster.replicas] == [None] * len(cluster.replicas)
    assert [process.poll() for process in cluster.workers] == [None] * len(cluster.workers)
    assert isinstance(cluster.haproxy, subprocess.Popen) and cluster.haproxy.poll() is None


async def test_a_killed_worker_loses_no_message(
    cluster: Cluster,
    database_url: str,
    smtp: tuple[SmtpSink, int],
    record_property: Callable[[str, object], None],
) -> None:
    """Messages a worker held when it was killed go out from the other one once their
    lease ends. Delivery is at least once: a message the mail server took from the killed
    worker before that worker could record it goes out again, so repeats are bounded by
    what the worker held (its concurrency), and each carries the same Message-ID, so the
    receiving side counts it once."""
    sink, _ = smtp
    settings = make_settings(secret_key=SecretStr(SECRET_KEY))
    ctx = ServiceContext.build(settings, database_url)
    try:
        # One recipient per message: what each received is known apart from its header.
        queued = {f"m{n}@example.com": str(await queue(ctx, recipient=f"m{n}@example.com"))
                  for n in range(300)}  # fmt: skip
        await eventually(lambda: _received(sink, 40), within=20)  # both workers mid-batch
        cluster.workers[0].send_signal(signal.SIGKILL)
        await eventually(lambda: _all_sent(ctx, len(queued)), within=60)
    finally:
        await ctx.close()
    message_ids: dict[str, list[str]] = {}
    for received in sink.messages:
        [recipient] = received.rcpt_tos
        message_ids.setdefault(recipient, []).append(str(received.message["Message-ID"]))
    assert set(message_ids) == set(queued)  # none lost
    for recipient, seen in message_ids.items():
        # Every copy of a message has its one Message-ID, from its outbox row.
        assert len(set(seen)) == 1, (recipient, seen)
        assert seen[0].strip("<>").split("@")[0] == queued[recipient]
    repeats = len(sink.messages) - len(queued)
    record_property("repeats_after_a_worker_kill", repeats)
    print(f"a killed worker: {repeats} of {len(queued)} messages received twice")
    assert repeats <= LEASED_AT_ONCE
    cluster.workers[0] = cluster._worker()


async def _readyz_is(port: int, status: int) -> bool:
    async with httpx.AsyncClient(timeout=2) as http:
        return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == status


async def _received(sink: SmtpSink, count: int) -> bool:
    return len(sink.messages) >= count


async def _all_sent(ctx: ServiceContext, count: int) -> bool:
    return await states(ctx) == {"sent": count}
