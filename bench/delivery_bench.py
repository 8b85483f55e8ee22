"""Delivery benchmark (issue 3): commit-to-SMTP-accept latency with the worker idle, and
sustained throughput to a local SMTP sink and to a local HTTP SMS gateway.

    python3 dev.py python bench/delivery_bench.py [--samples 200] [--backlog 3000] [--json FILE]

The worker is a real `authsvc worker` subprocess with default delivery settings (so an
idle worker is woken by NOTIFY; its poll is 5 s). The SMTP sink (aiosmtpd) and the HTTP
gateway each run in a process of their own and time-stamp what they accept. PostgreSQL is
the embedded server in a temporary folder unless AUTHSVC_TEST_DATABASE_URL is set.
Loopback traffic only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.queues
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from common import (
    SECRET_KEY,
    add_result_arguments,
    free_port,
    percentile,
    save_run,
    scratch_database,
    service_env,
)
from pydantic import SecretStr

from authsvc.config import Settings
from authsvc.context import ServiceContext
from authsvc.delivery import outbox

TOKEN = "bench-gateway-token"
OTP_PARAMS = {"code": "000000", "expires_minutes": "10"}


# --- the far ends, each in its own process ----------------------------------------------


def smtp_sink(port: int, accepted: multiprocessing.queues.Queue[tuple[str, float]]) -> None:
    """Accept every message; report (message id, monotonic time of the final 250)."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            content: bytes = envelope.content
            start = content.find(b"Message-ID: <") + len(b"Message-ID: <")
            accepted.put((content[start : content.find(b"@", start)].decode(), time.monotonic()))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:  # until SIGTERM ends the process
        time.sleep(3600)


def http_gateway(port: int, accepted: multiprocessing.queues.Queue[tuple[str, float]]) -> None:
    """A minimal keep-alive HTTP/1.1 server playing the generic SMS webhook."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                length = 0
                authorised = False
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    if name.lower() == "authorization":
                        authorised = value.strip() == f"Bearer {TOKEN}"
                body = json.loads(await reader.readexactly(length))
                status = b"202 Accepted" if authorised and line.startswith(b"POST") else b"401 No"
                if authorised:
                    accepted.put((body["message_id"], time.monotonic()))
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=512)
        async with server:
            await asyncio.Event().wait()  # until SIGTERM ends the process

    asyncio.run(main())


class FarEnd:
    def __init__(self, target: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.accepted: multiprocessing.queues.Queue[tuple[str, float]] = context.Queue()
        self.process = context.Process(target=target, args=(self.port, self.accepted))
        self.process.start()
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("far end did not start")
            time.sleep(0.05)

    def take(self, timeout: float) -> tuple[str, float]:
        message_id, at = self.accepted.get(timeout=timeout)
        return message_id, at

    def stop(self) -> None:
        if self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# --- the worker ------------------------------------------------------------------------


class Worker:
    """`authsvc worker` with default delivery settings, pointed at the far ends."""

    def __init__(self, url: str, smtp_port: int, http_port: int, log: Path) -> None:
        self.env = service_env(
            AUTHSVC_DATABASE_URL=url,
            AUTHSVC_ENV="dev",
            AUTHSVC_SECRET_KEY=SECRET_KEY,
            AUTHSVC_EMAIL_PROVIDER="smtp",
            AUTHSVC_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            AUTHSVC_SMS_PROVIDER="webhook",
            AUTHSVC_SMS_WEBHOOK_URL=f"http://127.0.0.1:{http_port}/sms",
            AUTHSVC_SMS_WEBHOOK_TOKEN=TOKEN,
        )
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "authsvc", "worker"], env=self.env, stderr=log
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


async def enqueue(ctx: ServiceContext, channel: str, count: int) -> list[str]:
    """Queue `count` OTP messages, 100 per transaction; returns their ids."""
    ids: list[str] = []
    while len(ids) < count:
        async with ctx.db.transaction() as session:
            for _ in range(min(100, count - len(ids))):
                message_id = await outbox.enqueue(
                    session,
                    outbox.new_message(
                        keyring=ctx.keyring,
                        now=ctx.clock.now(),
                        channel="sms" if channel == "sms" else "email",
                        recipient="+48601234567" if channel == "sms" else "bench@example.com",
                        template="login_otp",
                        params=OTP_PARAMS,
                        locale="en",
                        secret_params=("code",),
                    ),
                )
                ids.append(str(message_id))
    return ids


# --- the measurements --------------------------------------------------------------------


async def measure_latency(ctx: ServiceContext, sink: FarEnd, samples: int) -> list[float]:
    """One message at a time into an idle worker: commit -> the SMTP server's 250."""
    latencies = []
    for index in range(samples + 5):  # the first few warm the worker's connections
        await asyncio.sleep(random.uniform(0.02, 0.06))  # the worker is idle again
        async with ctx.db.transaction() as session:
            message_id = await outbox.enqueue(
                session,
                outbox.new_message(
                    keyring=ctx.keyring,
                    now=ctx.clock.now(),
                    channel="email",
                    recipient="bench@example.com",
                    template="login_otp",
                    params=OTP_PARAMS,
                    locale="en",
                    secret_params=("code",),
                ),
            )
        committed = time.monotonic()
        accepted_id, accepted_at = await asyncio.to_thread(sink.take, 10)
        if accepted_id != str(message_id):
            raise RuntimeError("the sink accepted an unexpected message")
        if index >= 5:
            latencies.append(accepted_at - committed)
    return latencies


def measure_drain(far_end: FarEnd, worker: Worker, ids: list[str]) -> tuple[float, float, float]:
    """Start the worker on a backlog; rate from the first to the last acceptance."""
    worker.start()
    try:
        pending = set(ids)
        times = []
        deadline = time.monotonic() + 120
        while pending:
            message_id, at = far_end.take(max(0.1, deadline - time.monotonic()))
            if message_id in pending:
                pending.discard(message_id)
                times.append(at)
        assert worker.process is not None
        cpu = psutil.Process(worker.process.pid).cpu_times()
    finally:
        worker.stop()
    span = max(times) - min(times)
    return (len(times) - 1) / span, span, (cpu.user + cpu.system) / len(ids)


async def run(args: argparse.Namespace, url: str, log: Path) -> dict[str, Any]:
    sink, gateway = FarEnd(smtp_sink), FarEnd(http_gateway)
    settings = Settings(env="dev", secret_key=SecretStr(SECRET_KEY))
    ctx = ServiceContext.build(settings, url)
    worker = Worker(url, sink.port, gateway.port, log)
    try:
        worker.start()
        latencies = await measure_latency(ctx, sink, args.samples)
        worker.stop()

        email_ids = await enqueue(ctx, "email", args.backlog)
        smtp_rate, smtp_span, smtp_cpu = await asyncio.to_thread(
            measure_drain, sink, worker, email_ids
        )
        sms_ids = await enqueue(ctx, "sms", args.backlog)
        http_rate, http_span, http_cpu = await asyncio.to_thread(
            measure_drain, gateway, worker, sms_ids
        )
    finally:
        worker.stop()
        sink.stop()
        gateway.stop()
        await ctx.close()
    return {
        "latency_samples": len(latencies),
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "latency_max_ms": round(max(latencies) * 1000, 1),
        "smtp_backlog": args.backlog,
        "smtp_msgs_per_s": round(smtp_rate),
        "smtp_seconds": round(smtp_span, 2),
        "smtp_worker_cpu_ms_per_msg": round(smtp_cpu * 1000, 2),
        "http_backlog": args.backlog,
        "http_msgs_per_s": round(http_rate),
        "http_seconds": round(http_span, 2),
        "http_worker_cpu_ms_per_msg": round(http_cpu * 1000, 2),
        "cpus": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="latency samples (200)")
    parser.add_argument("--backlog", type=int, default=3000, help="messages per drain (3000)")
    add_result_arguments(parser, "delivery")
    args = parser.parse_args()
    log = Path(tempfile.mkstemp(prefix="authsvc-delivery-bench-", suffix=".log")[1])
    with scratch_database(migrate=True) as url:
        result = asyncio.run(run(args, url, log))
    print(f"commit -> SMTP accepted, idle worker ({result['latency_samples']} samples):")
    print(f"  median {result['latency_median_ms']} ms, p99 {result['latency_p99_ms']} ms"
          f"  (target p99 < 250 ms)")  # fmt: skip
    print(f"throughput, backlog of {args.backlog} OTP messages (target >= 200 msg/s):")
    print(f"  SMTP sink     {result['smtp_msgs_per_s']} msg/s")
    print(f"  HTTP gateway  {result['http_msgs_per_s']} msg/s")
    print(json.dumps(result))
    print(f"worker log: {log}")
    save_run(args.json, "delivery", args.label, result)
    ok = result["latency_p99_ms"] < 250
    ok = ok and min(result["smtp_msgs_per_s"], result["http_msgs_per_s"]) >= 200
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
