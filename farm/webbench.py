"""The web benchmark's load: browser-like clients against a running farm web server.

Plain Python (httpx, asyncio), no Django: `manage.py bench_web` prepares a database, starts
the production server and calls `run_load`. Each client is one person with a tab open: it
logs in (sessions are shared between clients of one user, as tabs share a browser's), then
until the deadline picks its next request from its role's mix and waits a little between
requests (`think_seconds` on average, uniformly 0 to twice that). Everything goes to the one
`base_url` given (127.0.0.1), and everything stops at the deadline.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

# (endpoint, weight): what an employee's tab and an operator's tab ask for.
EMPLOYEE_MIX = (("my_jobs_poll", 45), ("my_jobs", 15), ("job_page", 25), ("submit", 5))
OPERATOR_MIX = (("dashboard_poll", 50), ("dashboard", 20), ("job_page", 30))
READS = ("my_jobs_poll", "my_jobs", "job_page", "dashboard_poll", "dashboard")
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
JOB_LINK = re.compile(rb'href="/jobs/(\d+)/"')


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    operator: bool


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)

    def record(self, endpoint: str, seconds: float, status: int) -> None:
        self.latencies[endpoint].append(seconds)
        self.statuses[f"{status // 100}xx"] += 1
        if status >= 500:
            self.errors["5xx"] += 1
        elif status >= 400:
            self.errors[f"{status}"] += 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(results: Results, seconds: float) -> dict[str, Any]:
    endpoints = {
        name: {
            "count": len(values),
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
        for name, values in sorted(results.latencies.items())
    }
    reads = [v for name in READS for v in results.latencies.get(name, [])]
    total = sum(len(v) for v in results.latencies.values())
    return {
        "requests": total,
        "requests_per_second": round(total / seconds, 1) if seconds else 0.0,
        "reads": {
            "count": len(reads),
            "p50_ms": round(percentile(reads, 0.50) * 1000, 1),
            "p99_ms": round(percentile(reads, 0.99) * 1000, 1),
        },
        "endpoints": endpoints,
        "statuses": dict(results.statuses),
        "errors": {
            "5xx": results.errors.get("5xx", 0),
            "connection": results.errors.get("connection", 0),
            "timeout": results.errors.get("timeout", 0),
            "other": sum(
                n for k, n in results.errors.items() if k not in ("5xx", "connection", "timeout")
            ),
            "by_kind": dict(results.errors),
        },
    }


async def log_in(base_url: str, account: Account) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        page = await client.get("/accounts/login/")
        token = CSRF.search(page.content)
        if token is None:
            raise RuntimeError("the log-in page has no CSRF token")
        answer = await client.post(
            "/accounts/login/",
            data={
                "username": account.username,
                "password": account.password,
                "csrfmiddlewaretoken": token.group(1).decode(),
            },
            headers={"Referer": base_url + "/accounts/login/"},
        )
        if answer.status_code != 302:
            raise RuntimeError(f"{account.username} could not log in: {answer.status_code}")
        return client.cookies


class Tab:
    """One client: a logged-in tab that keeps asking for pages until the deadline."""

    def __init__(
        self,
        *,
        base_url: str,
        cookies: httpx.Cookies,
        operator: bool,
        submission: dict[str, Any],
        think_seconds: float,
        results: Results,
        rng: random.Random,
        submit_budget: list[int],
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            cookies=cookies,
            timeout=30,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            headers={"Referer": base_url + "/"},
        )
        self.mix = OPERATOR_MIX if operator else EMPLOYEE_MIX
        self.submission = submission
        self.think = think_seconds
        self.results = results
        self.rng = rng
        self.jobs: list[str] = []
        self.submit_budget = submit_budget  # shared: bounded submissions in the whole run

    def pick(self) -> str:
        names = [n for n, _ in self.mix]
        weights = [w for _, w in self.mix]
        return self.rng.choices(names, weights)[0]

    async def request(self, endpoint: str, method: str, url: str, **kwargs: Any) -> bytes:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            self.results.errors["timeout"] += 1
            return b""
        except httpx.TransportError:
            self.results.errors["connection"] += 1
            return b""
        self.results.record(endpoint, time.perf_counter() - started, response.status_code)
        return response.content

    async def step(self, endpoint: str) -> None:
        if endpoint == "job_page" and not self.jobs:
            endpoint = "dashboard" if self.mix is OPERATOR_MIX else "my_jobs"
        if endpoint == "submit" and self.submit_budget[0] <= 0:
            endpoint = "my_jobs_poll"
        if endpoint in ("my_jobs", "dashboard"):
            page = await self.request(
                endpoint, "GET", "/jobs/" if endpoint == "my_jobs" else "/operator/"
            )
            found = [m.decode() for m in JOB_LINK.findall(page)]
            if found:
                self.jobs = found[:50]
        elif endpoint == "my_jobs_poll":
            await self.request(endpoint, "GET", "/jobs/?partial=1")
        elif endpoint == "dashboard_poll":
            await self.request(endpoint, "GET", "/operator/?partial=1")
        elif endpoint == "job_page":
            await self.request(endpoint, "GET", f"/jobs/{self.rng.choice(self.jobs)}/")
        elif endpoint == "submit":
            self.submit_budget[0] -= 1
            await self.submit()

    async def submit(self) -> None:
        form = await self.request("submit_form", "GET", "/jobs/new/")
        token = CSRF.search(form)
        if token is None:
            return
        data = {k: str(v) for k, v in self.submission["fields"].items()}
        data["csrfmiddlewaretoken"] = token.group(1).decode()
        files = {"file": (self.submission["name"], self.submission["content"], "model/stl")}
        await self.request("submit", "POST", "/jobs/new/", data=data, files=files)

    async def run(self, deadline: float) -> None:
        try:
            await asyncio.sleep(self.rng.uniform(0, max(self.think, 0.05) * 2))  # no stampede
            while time.monotonic() < deadline:
                await self.step(self.pick())
                if self.think:
                    await asyncio.sleep(self.rng.uniform(0, 2 * self.think))
        finally:
            await self.client.aclose()


async def run_load(
    *,
    base_url: str,
    accounts: list[Account],
    clients: int,
    seconds: float,
    think_seconds: float,
    submission: dict[str, Any],
    max_submissions: int,
    seed: int = 1,
) -> dict[str, Any]:
    """Log the accounts in, run `clients` tabs over them for `seconds`, and sum it up."""
    sessions = [await log_in(base_url, account) for account in accounts]
    results = Results()
    rng = random.Random(seed)
    budget = [max_submissions]
    tabs = [
        Tab(
            base_url=base_url,
            cookies=sessions[i % len(accounts)],
            operator=accounts[i % len(accounts)].operator,
            submission=submission,
            think_seconds=think_seconds,
            results=results,
            rng=random.Random(rng.random()),
            submit_budget=budget,
        )
        for i in range(clients)
    ]
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.wait_for(
        asyncio.gather(*(tab.run(deadline) for tab in tabs)), timeout=seconds + 60
    )
    elapsed = time.monotonic() - started
    report = summary(results, elapsed)
    report["submissions"] = max_submissions - budget[0]
    report["seconds"] = round(elapsed, 1)
    return report
