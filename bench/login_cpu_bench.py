"""Where a login's CPU goes (issue 14): per operation, the CPU of the argon2 threads, of the
event loop, of the delivery worker and of the PostgreSQL backends, beside throughput,
p50/p99 latency, the argon2 bound and argon2 alone on all cores, all in the same run.

    python3 dev.py python bench/login_cpu_bench.py [--argon2-memory-kib 19456]
        [--argon2-time-cost 2] [--seconds 10] [--rounds 2] [--worker process|in-process]
        [--proofs 150] [--proof-rounds 3]

Two operations, each driven closed-loop from its own connections:

- `login`: POST /login alone (its code is still sent: the worker runs throughout);
- `two-step`: POST /login, the code read from the e-mail that reaches a real SMTP server
  (aiosmtpd, in the load generator's process), POST /login/verify, and the confirmation
  e-mail received; one account per connection, so every e-mail has one reader.

Then (unless `--proofs 0`) the second-step checks (issue 19): the CPU of one
`POST /login/verify` for each kind of proof, in the same run: an e-mail code, an
authenticator app's (TOTP) code and a recovery code. For each kind, `--proofs` accounts of
its own (the app and its recovery codes set up through the factors service, against the
bench's database); all their challenges are opened first, outside the CPU window (their
`/login` with argon2, and for e-mail codes the code read from the e-mail); the window
holds only the verifications, sent closed-loop from a few connections over the prepared
challenges. One account per verification: a TOTP step is accepted once per account.
`--proof-rounds` rounds, each kind once per round in a rotating order; the ratio to the
e-mail code's is the median of the rounds' ratios (a short window on a shared machine
moves by 10-30%). What is left above the e-mail code's (issue 19): the app's check
unseals the secret (AES-GCM) and computes three codes (pyotp), and its session
statement also spends the step and uses the challenge; a recovery code's queues its
notice (a second outbox row, built and inserted) and uses the code and the challenge.
Both take the e-mail code's round trips: the attempt (which reads the sealed secret or
the codes left), the session (which carries the claim), the commit.

Each operation has accounts of its own: the challenges `login` leaves open would
otherwise make every `/login/verify` of the same account cancel their notices.

The API is `authsvc serve` and the worker `authsvc worker`, each a subprocess (with
`--worker in-process` the worker runs inside serve, as by default, and its CPU is part of
the event loop's). CPU is read from /proc before and after each window: the server's
threads by nice value (argon2 threads run at nice 10; the main thread is the event loop),
the worker process as a whole, and each PostgreSQL process by what pg_stat_activity says
it is (application_name `authsvc` for the API, `authsvc-worker` and the listener for the
worker; background processes such as the WAL writer apart). Embedded PostgreSQL in a
temporary folder unless AUTHSVC_TEST_DATABASE_URL is set; loopback traffic only.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import pyotp
from common import (
    PASSWORD,
    SECRET_KEY,
    Argon2Probe,
    HttpConnection,
    Server,
    free_port,
    get,
    machine_description,
    percentile,
    post,
    postgres_roles,
    process_seconds,
    scratch_database,
    thread_seconds,
)

OTP_SUBJECT = "Your Client Panel sign-in code"
CONFIRMATION_SUBJECT = "New sign-in to your Client Panel account"
MAIL_WAIT = 10.0  # seconds for an e-mail to arrive
CODE = re.compile(rb"^\s+(\d{6})\s*$", re.MULTILINE)


# --- the load generator: a child process with the SMTP server in its event loop ---------


class Mailboxes:
    """An aiosmtpd handler: while `keeping`, each recipient's messages (subject, text)
    wait in its own queue; otherwise they are accepted and dropped."""

    def __init__(self) -> None:
        self.keeping = False
        self.boxes: dict[str, asyncio.Queue[tuple[str, bytes]]] = {}

    def box(self, address: str) -> asyncio.Queue[tuple[str, bytes]]:
        return self.boxes.setdefault(address, asyncio.Queue())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.keeping:
            mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
            for address in envelope.rcpt_tos:
                self.box(address).put_nowait((str(mail["Subject"]), envelope.content))
        return "250 OK"

    async def next(self, address: str, subject: str) -> bytes:
        """The next message to `address` with `subject` (others are skipped)."""
        async with asyncio.timeout(MAIL_WAIT):
            while True:
                got, content = await self.box(address).get()
                if got == subject:
                    return content


async def _login_window(
    url: str, logins: list[str], seconds: float, healthz: bool
) -> dict[str, Any]:
    """POST /login closed-loop from one connection per login, plus /healthz every 20 ms."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    health: list[float] = []
    counts: dict[str, int] = {}

    async def one(login: str) -> None:
        http = await HttpConnection.open(url)
        request = post(url, "/login", {"login": login, "password": PASSWORD})
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                status, _ = await http.send(request)
                latencies.append((time.perf_counter() - started) * 1000)
                counts[status] = counts.get(status, 0) + 1
        finally:
            http.close()

    async def probe() -> None:
        http = await HttpConnection.open(url)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await http.send(get(url, "/healthz"))
                health.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)
        finally:
            http.close()

    await asyncio.gather(*(one(login) for login in logins), *([probe()] if healthz else []))
    return {"counts": counts, "latencies": latencies, "healthz": health}


async def _two_step_window(
    url: str, logins: list[str], seconds: float, mail: Mailboxes
) -> dict[str, Any]:
    """The whole login, closed-loop from one connection per login (and mailbox)."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    counts: dict[str, int] = {}

    def count(what: str) -> None:
        counts[what] = counts.get(what, 0) + 1

    async def one(login: str) -> None:
        address = f"{login}@example.com"
        http = await HttpConnection.open(url)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                status, body = await http.send(
                    post(url, "/login", {"login": login, "password": PASSWORD})
                )
                if status != "200":
                    count(f"login-{status}")
                    continue
                challenge = json.loads(body)["challenge_id"]
                found = CODE.search(await mail.next(address, OTP_SUBJECT))
                assert found is not None, "no code in the e-mail"
                answer = {"challenge_id": challenge, "code": found.group(1).decode()}
                status, _ = await http.send(post(url, "/login/verify", answer))
                if status != "200":
                    count(f"verify-{status}")
                    continue
                await mail.next(address, CONFIRMATION_SUBJECT)
                latencies.append((time.perf_counter() - started) * 1000)
                count("200")
        except TimeoutError:
            count("mail-timeout")
        finally:
            http.close()

    mail.boxes.clear()
    mail.keeping = True
    try:
        await asyncio.gather(*(one(login) for login in logins))
    finally:
        mail.keeping = False
    return {"counts": counts, "latencies": latencies, "healthz": []}


PROOF_KINDS = ("email", "totp", "recovery")
PROOF_CONNECTIONS = 4  # verifications in flight at once


async def _open_challenges(
    url: str, kind: str, accounts: list[dict[str, str]], connections: int, mail: Mailboxes
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """POST /login for each account (and, for e-mail codes, the code read from its
    e-mail): what each verification will need."""
    queue = list(accounts)
    prepared: list[dict[str, str]] = []
    counts: dict[str, int] = {}

    async def one() -> None:
        http = await HttpConnection.open(url)
        try:
            while queue:
                account = queue.pop()
                status, body = await http.send(
                    post(url, "/login", {"login": account["login"], "password": PASSWORD})
                )
                counts[f"login-{status}"] = counts.get(f"login-{status}", 0) + 1
                if status != "200":
                    continue
                challenge = json.loads(body)
                assert challenge["factor"] == ("email" if kind == "email" else "totp"), challenge
                ready = {**account, "challenge_id": challenge["challenge_id"]}
                if kind == "email":
                    message = await mail.next(f"{account['login']}@example.com", OTP_SUBJECT)
                    found = CODE.search(message)
                    assert found is not None, "no code in the e-mail"
                    ready["code"] = found.group(1).decode()
                prepared.append(ready)
        finally:
            http.close()

    mail.boxes.clear()
    mail.keeping = kind == "email"
    try:
        await asyncio.gather(*(one() for _ in range(connections)))
    finally:
        mail.keeping = False
    return prepared, counts


async def _verify_window(url: str, kind: str, prepared: list[dict[str, str]]) -> dict[str, Any]:
    """POST /login/verify for each prepared challenge, closed-loop from a few connections."""
    queue = list(prepared)
    latencies: list[float] = []
    counts: dict[str, int] = {}

    def proof(ready: dict[str, str]) -> dict[str, str]:
        if kind == "totp":
            # The next step: within the accepted skew, and after the one the set-up spent.
            return {"code": pyotp.TOTP(ready["secret"]).at(time.time() + 30)}
        if kind == "recovery":
            return {"recovery_code": ready["recovery_code"]}
        return {"code": ready["code"]}

    async def one() -> None:
        http = await HttpConnection.open(url)
        try:
            while queue:
                ready = queue.pop()
                body = {"challenge_id": ready["challenge_id"], **proof(ready)}
                started = time.perf_counter()
                status, _ = await http.send(post(url, "/login/verify", body))
                latencies.append((time.perf_counter() - started) * 1000)
                counts[status] = counts.get(status, 0) + 1
        finally:
            http.close()

    await asyncio.gather(*(one() for _ in range(PROOF_CONNECTIONS)))
    return {"counts": counts, "latencies": latencies, "healthz": []}


async def set_up_proof_accounts(
    database_url: str, args: argparse.Namespace, count: int
) -> dict[str, list[dict[str, str]]]:
    """`count` accounts per kind of proof (login codes by e-mail in English); those of
    `totp` and `recovery` with an authenticator app confirmed through the factors service
    (and so their recovery codes). Each kind's accounts and what its proofs need."""
    from pydantic import SecretStr

    from authsvc.accounts import service as accounts_service
    from authsvc.accounts.passwords import PasswordHasher
    from authsvc.config import Settings
    from authsvc.context import ServiceContext
    from authsvc.factors import service as factors

    settings = Settings(
        env="dev",
        secret_key=SecretStr(SECRET_KEY),
        argon2_memory_kib=args.argon2_memory_kib,
        argon2_time_cost=args.argon2_time_cost,
        argon2_parallelism=args.argon2_parallelism,
    )
    password_hash = PasswordHasher.from_settings(settings).hash_blocking(PASSWORD)
    ctx = ServiceContext.build(settings, database_url)
    kinds: dict[str, list[dict[str, str]]] = {kind: [] for kind in PROOF_KINDS}
    try:
        for kind in PROOF_KINDS:
            for login in accounts(f"proof-{kind}", count):
                async with ctx.db.transaction() as session:
                    account = await accounts_service.create_account(
                        session, login=login, email=f"{login}@example.com",
                        password_hash=password_hash, now=ctx.clock.now(),
                        sms_countries=settings.sms_countries, locale="en",
                    )  # fmt: skip
                    if kind == "email":
                        kinds[kind].append({"login": login})
                        continue
                    app = await factors.start_totp(session, ctx, account, ip="127.0.0.1")
                    codes = await factors.confirm_totp(
                        session, ctx, account, factor_id=app.factor_id,
                        code=pyotp.TOTP(app.secret).now(), ip="127.0.0.1",
                    )  # fmt: skip
                    assert codes, "no recovery codes with the first strong factor"
                    kinds[kind].append(
                        {"login": login, "secret": app.secret, "recovery_code": codes[0]}
                    )
    finally:
        await ctx.close()
    return kinds


def accounts(operation: str, connections: int) -> list[str]:
    return [f"cpu-bench-{operation}-{n}" for n in range(connections)]


async def load_generator(url: str, smtp_port: int, connections: int) -> None:
    """Serve SMTP on `smtp_port`; run each window asked for on stdin (one JSON line),
    answer with its result on stdout (one JSON line), until stdin closes."""
    from aiosmtpd.smtp import SMTP

    mail = Mailboxes()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(mail), "127.0.0.1", smtp_port)
    prepared: dict[str, list[dict[str, str]]] = {}
    print(json.dumps({"ready": True}), flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if command["operation"] == "open-challenges":
            kind = command["kind"]
            prepared[kind], counts = await _open_challenges(
                url, kind, command["accounts"], connections, mail
            )
            result = {"counts": counts}
        elif command["operation"] == "verify":
            result = await _verify_window(url, command["kind"], prepared.pop(command["kind"]))
        elif command["operation"] == "login":
            logins = accounts("login", connections)
            result = await _login_window(url, logins, command["seconds"], command["healthz"])
        else:
            logins = accounts("two-step", connections)
            result = await _two_step_window(url, logins, command["seconds"], mail)
        print(json.dumps(result), flush=True)
    server.close()


# --- CPU by component --------------------------------------------------------------------


@dataclass
class Processes:
    server: int
    worker: int | None
    load_generator: int
    database_url: str


@dataclass
class Sample:
    """CPU seconds so far, by component."""

    seconds: dict[str, float] = field(default_factory=dict)
    threads: dict[int, tuple[float, int]] = field(default_factory=dict)
    backends: dict[int, tuple[str, float]] = field(default_factory=dict)


def sample(processes: Processes) -> Sample:
    taken = Sample(threads=thread_seconds(processes.server))
    roles = asyncio.run(postgres_roles(processes.database_url))
    taken.backends = {pid: (role, process_seconds(pid)) for pid, role in roles.items()}
    if processes.worker is not None:
        taken.seconds["delivery worker"] = process_seconds(processes.worker)
    taken.seconds["load generator"] = process_seconds(processes.load_generator)
    return taken


def spent(before: Sample, after: Sample, server_pid: int) -> dict[str, float]:
    """CPU seconds by component between two samples (threads and backends that started in
    between count from zero; those that ended in between are lost, which the pools and
    the argon2 threads, alive throughout, do not do)."""
    totals: dict[str, float] = {}

    def add(component: str, seconds: float) -> None:
        totals[component] = totals.get(component, 0.0) + seconds

    for tid, (seconds, nice) in after.threads.items():
        component = (
            "event loop" if tid == server_pid else "argon2" if nice > 0 else "server, other threads"
        )
        add(component, seconds - before.threads.get(tid, (0.0, 0))[0])
    for pid, (role, seconds) in after.backends.items():
        add(role, seconds - before.backends.get(pid, (role, 0.0))[1])
    for component, seconds in after.seconds.items():
        add(component, seconds - before.seconds.get(component, 0.0))
    return totals


# --- the benchmark ---------------------------------------------------------------------


@dataclass
class Window:
    operation: str
    seconds: float
    ops: int
    counts: dict[str, int]
    latencies: list[float]
    healthz: list[float]
    cpu: dict[str, float]
    one_verification: float  # seconds, argon2 alone, around the window
    all_cores: float  # verifications/s, argon2 alone on every core, around the window

    def per_op_ms(self, component: str) -> float:
        return 1000 * self.cpu.get(component, 0.0) / max(1, self.ops)


OUTSIDE_ARGON2 = ("event loop", "server, other threads", "postgres: API")
DELIVERY = ("delivery worker", "postgres: worker")
COMPONENTS = (
    "argon2",
    "event loop",
    "server, other threads",
    "postgres: API",
    "delivery worker",
    "postgres: worker",
    "postgres: background",
    "load generator",
)


def report(windows: list[Window], cores: int) -> None:
    for operation in ("login", "two-step"):
        runs = [window for window in windows if window.operation == operation]
        if not runs:
            continue
        ops = sum(run.ops for run in runs)
        seconds = sum(run.seconds for run in runs)
        latencies = [ms for run in runs for ms in run.latencies]
        rate = ops / seconds
        one = statistics.mean(run.one_verification for run in runs)
        ceiling = statistics.mean(run.all_cores for run in runs)
        bound = cores / one
        print(f"\n{operation}: {rate:.1f}/s over {seconds:.0f} s, answers "
              f"{_merge(run.counts for run in runs)}")  # fmt: skip
        print(f"  latency p50 {percentile(latencies, 0.5):.1f} ms, "
              f"p99 {percentile(latencies, 0.99):.1f} ms")  # fmt: skip
        print(
            f"  argon2: one verification {one * 1000:.1f} ms, bound {bound:.1f}/s, "
            f"alone on all cores {ceiling:.1f}/s ({100 * ceiling / bound:.0f}% of the bound)"
        )
        print(f"  throughput: {100 * rate / ceiling:.0f}% of argon2 alone on all cores, "
              f"{100 * rate / bound:.0f}% of the bound")  # fmt: skip
        health = [ms for run in runs for ms in run.healthz]
        if health:
            print(f"  /healthz meanwhile: p50 {percentile(health, 0.5):.1f} ms, "
                  f"p99 {percentile(health, 0.99):.1f} ms ({len(health)} probes)")  # fmt: skip
        print("  CPU per operation:")
        totals = {name: sum(run.cpu.get(name, 0.0) for run in runs) for name in COMPONENTS}
        for name in COMPONENTS:
            print(f"    {name:<24} {1000 * totals[name] / max(1, ops):7.2f} ms")
        outside = sum(totals[name] for name in OUTSIDE_ARGON2)
        delivery = sum(totals[name] for name in DELIVERY)
        print(f"    {'outside argon2 (API)':<24} {1000 * outside / max(1, ops):7.2f} ms"
              "   event loop + other server threads + PostgreSQL for the API")  # fmt: skip
        print(f"    {'with the delivery':<24} {1000 * (outside + delivery) / max(1, ops):7.2f} ms"
              "   plus the worker and its PostgreSQL")  # fmt: skip


PROOF_COMPONENTS = ("event loop", "server, other threads", "argon2", "postgres: API")


def report_proofs(rounds: list[list[Window]]) -> None:
    """CPU per /login/verify by kind of proof over all rounds, and its ratio to the
    e-mail code's: the median of each round's ratio (its kinds measured side by side, so
    the machine's load drifts less between them than between rounds)."""
    if not rounds:
        return
    print("\nsecond-step checks: CPU per POST /login/verify (the /login before it not counted),"
          f" {len(rounds)} round(s)")  # fmt: skip

    def api(window: Window) -> float:
        return sum(window.per_op_ms(name) for name in PROOF_COMPONENTS)

    def median_ratio(kind: str, measure: Any) -> str:
        ratios = []
        for windows in rounds:
            mine = next(w for w in windows if w.operation == kind)
            base = next(w for w in windows if w.operation == "email")
            if measure(base) > 0:
                ratios.append(measure(mine) / measure(base))
        if not ratios:
            return "    -"
        each = ", ".join(f"{r:.2f}" for r in ratios)
        return f"{statistics.median(ratios):5.2f}x" + (f" ({each})" if len(ratios) > 1 else "")

    for kind in PROOF_KINDS:
        runs = [w for windows in rounds for w in windows if w.operation == kind]
        ops = sum(w.ops for w in runs)
        merged = Window(kind, sum(w.seconds for w in runs), ops, _merge(w.counts for w in runs),
                        [ms for w in runs for ms in w.latencies], [],
                        {name: sum(w.cpu.get(name, 0.0) for w in runs)
                         for name in {n for w in runs for n in w.cpu}}, 0.0, 0.0)  # fmt: skip
        print(f"  {kind}: {ops} verified, answers {merged.counts}, latency "
              f"p50 {percentile(merged.latencies, 0.5):.1f} ms, "
              f"p99 {percentile(merged.latencies, 0.99):.1f} ms")  # fmt: skip
        for name in PROOF_COMPONENTS:
            ratio = median_ratio(kind, lambda w, name=name: w.per_op_ms(name))
            print(f"    {name:<24} {merged.per_op_ms(name):7.2f} ms  {ratio}")
        print(f"    {'API (all of the above)':<24} {api(merged):7.2f} ms  "
              f"{median_ratio(kind, api)} the e-mail code's")  # fmt: skip
        delivery = sum(merged.per_op_ms(name) for name in DELIVERY)
        print(f"    {'delivery (its e-mail)':<24} {delivery:7.2f} ms   worker and its PostgreSQL")


def _merge(counts: Any) -> dict[str, int]:
    merged: dict[str, int] = {}
    for one in counts:
        for key, value in one.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def _spies(
    folder: str | None, operation: str, seconds: float, processes: Processes
) -> list[subprocess.Popen[bytes]]:
    """py-spy on the server and the worker for one window: where their CPU goes."""
    if folder is None:
        return []
    os.makedirs(folder, exist_ok=True)
    targets = {"server": processes.server, "worker": processes.worker}
    return [
        subprocess.Popen(
            [
                *("py-spy", "record", "--format", "raw", "--rate", "250", "--nonblocking"),
                *("--duration", str(max(1, int(seconds))), "--pid", str(pid)),
                *("--output", f"{folder}/{operation}-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in targets.items()
        if pid is not None
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--argon2-memory-kib", type=int, default=19 * 1024)
    parser.add_argument("--argon2-time-cost", type=int, default=2)
    parser.add_argument("--argon2-parallelism", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10, help="length of each window")
    parser.add_argument("--rounds", type=int, default=2, help="windows of each operation")
    parser.add_argument("--connections", type=int, help="accounts driven at once (cores x 4)")
    parser.add_argument("--worker", choices=("process", "in-process"), default="process")
    parser.add_argument(
        "--proofs", type=int, default=150,
        help="accounts per kind of second-step check (e-mail, TOTP, recovery code) and round;"
             " 0 skips",
    )  # fmt: skip
    parser.add_argument(
        "--proof-rounds", type=int, default=3,
        help="rounds of the second-step checks (each kind once per round, in turn)",
    )  # fmt: skip
    parser.add_argument(
        "--py-spy", metavar="DIR", help="also record py-spy stacks (collapsed) of each window"
    )
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        url, smtp_port, connections = args.child
        asyncio.run(load_generator(url, int(smtp_port), int(connections)))
        return

    cores = os.cpu_count() or 1
    connections = args.connections or cores * 4
    print(f"machine: {machine_description()}")
    print(
        f"argon2: m={args.argon2_memory_kib} KiB, t={args.argon2_time_cost}, "
        f"p={args.argon2_parallelism}; {connections} connections; worker: {args.worker}"
    )
    argon2 = Argon2Probe(
        memory_kib=args.argon2_memory_kib,
        time_cost=args.argon2_time_cost,
        parallelism=args.argon2_parallelism,
    )
    smtp_port = free_port()
    with scratch_database(migrate=True) as database_url:
        server = Server(
            database_url,
            {
                "AUTHSVC_ARGON2_MEMORY_KIB": str(args.argon2_memory_kib),
                "AUTHSVC_ARGON2_TIME_COST": str(args.argon2_time_cost),
                "AUTHSVC_ARGON2_PARALLELISM": str(args.argon2_parallelism),
                "AUTHSVC_EMAIL_PROVIDER": "smtp",
                "AUTHSVC_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
                "AUTHSVC_SECRET_KEY": SECRET_KEY,
                "AUTHSVC_RUN_DELIVERY_WORKER": str(args.worker == "in-process").lower(),
            },
        )
        worker: subprocess.Popen[bytes] | None = None
        load: subprocess.Popen[str] | None = None
        try:
            server.start()
            for login in accounts("login", connections) + accounts("two-step", connections):
                server.cli("accounts", "create", "--login", login, "--email",
                           f"{login}@example.com", "--locale", "en", stdin=PASSWORD)  # fmt: skip
            load = subprocess.Popen(
                [sys.executable, __file__, "--child", server.url, str(smtp_port), str(connections)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert load.stdin is not None
            assert load.stdout is not None
            json.loads(load.stdout.readline())  # ready
            if args.worker == "process":
                worker = subprocess.Popen(
                    [sys.executable, "-m", "authsvc", "worker"],
                    env=server.env,
                    stdout=subprocess.DEVNULL,
                )
            assert server.process is not None
            processes = Processes(
                server=server.process.pid,
                worker=worker.pid if worker else None,
                load_generator=load.pid,
                database_url=database_url,
            )

            def ask(command: dict[str, Any]) -> Any:
                """Run one command in the load generator; its answer."""
                assert load is not None
                assert load.stdin is not None
                assert load.stdout is not None
                load.stdin.write(json.dumps(command) + "\n")
                load.stdin.flush()
                return json.loads(load.stdout.readline())

            def window(
                operation: str, seconds: float, command: dict[str, Any] | None = None
            ) -> tuple[dict[str, Any], dict[str, float]]:
                spies = _spies(args.py_spy, operation, seconds, processes)
                before = sample(processes)
                result = ask(command or {"operation": operation, "seconds": seconds,
                                         "healthz": operation == "login"})  # fmt: skip
                time.sleep(0.3)  # the last code's e-mail leaves within this
                after = sample(processes)
                for spy in spies:
                    spy.wait(timeout=60)
                return result, spent(before, after, processes.server)

            window("two-step", 3)  # warm up: pools, argon2 threads, SMTP connections
            window("login", 2)
            windows: list[Window] = []
            for round_number in range(1, args.rounds + 1):
                for operation in ("login", "two-step"):
                    one_before, ceiling_before = argon2.one(), argon2.all_cores(cores)
                    result, cpu = window(operation, args.seconds)
                    one, ceiling = (one_before + argon2.one()) / 2, ceiling_before
                    ceiling = (ceiling_before + argon2.all_cores(cores)) / 2
                    ops = result["counts"].get("200", 0)
                    windows.append(Window(operation, args.seconds, ops, result["counts"],
                                          result["latencies"], result["healthz"], cpu, one,
                                          ceiling))  # fmt: skip
                    outside = sum(windows[-1].per_op_ms(name) for name in OUTSIDE_ARGON2)
                    print(f"  round {round_number} {operation}: {ops / args.seconds:.1f}/s, "
                          f"argon2 alone on all cores {ceiling:.1f}/s, "
                          f"outside argon2 {outside:.2f} ms/op", flush=True)  # fmt: skip
            proofs: list[list[Window]] = []
            if args.proofs > 0:
                per_round = args.proofs
                print(f"second-step checks: setting up {per_round} accounts per kind and "
                      f"round, {args.proof_rounds} round(s)", flush=True)  # fmt: skip
                kinds = asyncio.run(
                    set_up_proof_accounts(database_url, args, per_round * args.proof_rounds)
                )
                for round_number in range(args.proof_rounds):
                    proofs.append([])
                    # Each round in another order: a drift of the load favours no kind.
                    shift = round_number % len(PROOF_KINDS)
                    for kind in PROOF_KINDS[shift:] + PROOF_KINDS[:shift]:
                        first = round_number * per_round
                        mine = kinds[kind][first : first + per_round]
                        opened = ask({"operation": "open-challenges", "kind": kind,
                                      "accounts": mine})  # fmt: skip
                        time.sleep(1)  # the e-mails of the set-up and of /login leave meanwhile
                        started = time.monotonic()
                        result, cpu = window(f"verify-{kind}-{round_number + 1}", 1,
                                             {"operation": "verify", "kind": kind})  # fmt: skip
                        took = time.monotonic() - started
                        ops = result["counts"].get("200", 0)
                        measured = Window(kind, took, ops, result["counts"], result["latencies"],
                                          [], cpu, 0.0, 0.0)  # fmt: skip
                        proofs[-1].append(measured)
                        api = sum(measured.per_op_ms(name) for name in PROOF_COMPONENTS)
                        print(f"  round {round_number + 1} {kind}: challenges opened "
                              f"{opened['counts']}, {ops} verified, API {api:.2f} ms per verify",
                              flush=True)  # fmt: skip
            report(windows, cores)
            report_proofs(proofs)
            print(f"\nmachine after the run: {machine_description()}")
        finally:
            if load is not None:
                load.terminate()
                load.wait(timeout=10)
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
            server.stop()
            argon2.close()


if __name__ == "__main__":
    main()
