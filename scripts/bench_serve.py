"""Load run of `ttc serve` against `ttc solve` on the same problems (simulator, loopback).

`ttc serve` runs as its own process (the real command) on 127.0.0.1; this script sends
``--requests`` chat requests, ``--concurrency`` at a time, each a different simulator
problem, and checks that every one is answered exactly once (none lost, none
duplicated: each answer names the problem it solved) with the answer `ttc solve` gives.
`ttc solve` is the same router as one batch job in this process (``Router.solve`` over
all problems, the loop the command runs); its latency is the time from the job's start
to each problem's answer, since all of them were there at the start. Printed side by
side: wall time, throughput, p50 / p99 latency, compute spent, batches.

    .venv/bin/python -m scripts.bench_serve                    # 500 requests, 50 at a time
    .venv/bin/python -m scripts.bench_serve --requests 100 --concurrency 10

Without ``--calibration`` a small simulator calibration is made first (about a minute).
Nothing leaves the machine: the server listens on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Side:
    name: str
    wall_s: float
    latencies: list[float]
    answers: dict[str, str | None]  # problem id -> answer
    generations: float
    batches: str
    solving_s: float = 0.0  # time inside Router.solve
    cpu_s: float = float("nan")  # CPU time of the process that routes

    def row(self, label: str) -> float | str:
        lat = np.asarray(self.latencies)
        return {
            "requests answered": len(self.latencies),
            "wall time (s)": self.wall_s,
            "throughput (req/s)": len(self.latencies) / self.wall_s,
            "latency p50 (s)": float(np.percentile(lat, 50)),
            "latency p99 (s)": float(np.percentile(lat, 99)),
            "time in Router.solve (s)": self.solving_s,
            "CPU of the router (s)": self.cpu_s,
            "generations spent": self.generations,
            "batches": self.batches,
        }[label]


def make_calibration(out: Path) -> Path:
    from router.cli import main

    print(f"bench_serve: calibrating the simulator into {out} ...", flush=True)
    calibrate = ["calibrate", "--problems", "simulator:200", "--backend", "simulator",
                 "--verifier", "simulator", "--samples", "16", "--budgets", "1,2,4,8,16",
                 "--probe-k", "4", "--probe-draws", "4", "--draws", "16", "--seeds", "1",
                 "--bootstrap", "50", "--cv-repeats", "1", "--batch-size", "100",
                 "--no-progress", "--out", str(out)]  # fmt: skip
    if main(calibrate) != 0:
        raise SystemExit("bench_serve: the calibration failed")
    return out


def run_solve(calibration: Path, world_spec: str, count: int, batch_size: int) -> Side:
    """`ttc solve`'s loop in this process: one Router.solve over every problem."""
    from calibration.store.artifact import load_artifact
    from router.problem_source import load_problem_set
    from router.serve.budgets import server_policy
    from router.setup import Overrides, build_engines, resolve_settings
    from router.solver import Router

    problems = load_problem_set(world_spec)
    artifact = load_artifact(calibration)
    settings = resolve_settings(artifact.manifest, Overrides())
    generator, verifier = build_engines(settings, problems.world)
    router = Router(artifact, settings, generator, verifier, batch_size=batch_size)
    policy = server_policy("auto", artifact.table.budgets)
    router.price_for(policy)
    texts = {p.id: p.text for p in problems.problems[:count]}
    cpu = time.process_time()
    started = time.perf_counter()
    latencies, answers, generations = [], {}, 0.0
    for record in router.solve(problems.problems[:count], policy):
        latencies.append(time.perf_counter() - started)
        answers[texts[record.id]] = record.answer
        generations += record.compute.generations
    wall = time.perf_counter() - started
    chunks = -(-count // batch_size)
    side = Side("ttc solve", wall, latencies, answers, generations, f"{chunks} x {batch_size}")
    side.solving_s, side.cpu_s = wall, time.process_time() - cpu
    return side


async def _load(url: str, texts: list[str], concurrency: int, model: str) -> tuple[list, float]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def one(text: str) -> tuple[str, int, dict[str, Any], float]:
            async with gate:
                sent = time.perf_counter()
                body = {"model": model, "messages": [{"role": "user", "content": text}]}
                try:
                    response = await client.post("/v1/chat/completions", json=body)
                except httpx.TransportError as exc:  # counted as lost, with the reason
                    seconds = time.perf_counter() - sent
                    at = sent - started
                    print(f"bench_serve: {type(exc).__name__} {exc!r} after {seconds:.3f} s "
                          f"(sent at {at:.3f} s)", flush=True)  # fmt: skip
                    return text, 0, {"error": repr(exc)}, seconds
                return text, response.status_code, response.json(), time.perf_counter() - sent

        started = time.perf_counter()
        results = await asyncio.gather(*(one(text) for text in texts))
        return list(results), time.perf_counter() - started


def run_serve(
    calibration: Path, world_spec: str, count: int, args: argparse.Namespace
) -> tuple[Side, dict[str, int]]:
    from router.problem_source import load_problem_set
    from router.serve.protocol import problem_id

    texts = [p.text for p in load_problem_set(world_spec).problems[:count]]
    with _server(calibration, world_spec, args) as server:
        url = server.url
        cpu = server.cpu_s()
        results, wall = asyncio.run(_load(url, texts, args.concurrency, server.model))
        cpu = server.cpu_s() - cpu
        metrics = httpx.get(url + "/metrics", timeout=30).text
    statuses: dict[str, int] = {}
    answers: dict[str, str | None] = {}
    latencies = []
    generations = 0.0
    duplicated = lost = wrong_problem = 0
    for text, status, body, seconds in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status != 200:
            lost += 1
            continue
        ttc = body["ttc"]
        if ttc["problem_id"].split("#")[0] != problem_id(text):
            wrong_problem += 1
        if text in answers:
            duplicated += 1
        answers[text] = ttc["answer"]
        generations += float(ttc["compute"]["generations"])
        latencies.append(seconds)
    batches = _metric(metrics, "ttc_batches_total")
    mean = _metric(metrics, "ttc_batch_size_sum") / max(_metric(metrics, "ttc_batch_size_count"), 1)
    side = Side("ttc serve", wall, latencies, answers, generations, f"{batches:.0f} x {mean:.1f}")
    side.solving_s = _metric(metrics, "ttc_batch_seconds_sum")
    side.cpu_s = cpu
    checks = {
        "lost": lost + (count - len(results)),
        "duplicated": duplicated,
        "wrong_problem": wrong_problem,
        "served_200": int(_metric(metrics, 'ttc_requests_total{status="200"}')),
        **{f"http_{k}": v for k, v in statuses.items()},
    }
    return side, checks


def _metric(text: str, name: str) -> float:
    """The sum of the samples whose name (and labels, if given) start with ``name``."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


class _server:
    """`ttc serve` in a subprocess on a free loopback port."""

    def __init__(self, calibration: Path, world_spec: str, args: argparse.Namespace) -> None:
        from router.serve.server import bind_socket

        with bind_socket("127.0.0.1", 0) as probe:
            self.port = probe.getsockname()[1]
        self.command = [
            sys.executable, "-m", "router.cli", "serve",
            "--calibration", str(calibration), "--world", world_spec,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--batch-size", str(args.batch_size),
            "--batch-window-ms", str(args.batch_window_ms),
            "--max-concurrency", str(max(256, 2 * args.concurrency)),
            "--log-level", "warning",
        ]  # fmt: skip
        self.model = calibration.name

    def __enter__(self) -> _server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ttc serve did not start")
            try:
                httpx.get(self.url + "/health", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.2)

    def cpu_s(self) -> float:
        """The server process's CPU seconds so far (Linux /proc; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def print_table(solve: Side, serve: Side) -> None:
    labels = ["requests answered", "wall time (s)", "throughput (req/s)", "latency p50 (s)",
              "latency p99 (s)", "time in Router.solve (s)", "CPU of the router (s)",
              "generations spent", "batches"]  # fmt: skip
    print(f"\n{'':26}{'ttc solve':>14}{'ttc serve':>14}{'serve/solve':>13}")
    for label in labels:
        a, b = solve.row(label), serve.row(label)
        if isinstance(a, str) or isinstance(b, str):
            print(f"{label:26}{a!s:>14}{b!s:>14}")
            continue
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"{label:26}{a:>14.3f}{b:>14.3f}{ratio:>13}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batch-window-ms", type=float, default=20.0)
    parser.add_argument("--calibration", type=Path, help="a simulator calibration to use")
    args = parser.parse_args(argv)
    world_spec = f"simulator:{args.requests}:1"  # held out from a calibration on seed 0
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        calibration = args.calibration or make_calibration(Path(scratch) / "sim-calibration")
        solve = run_solve(calibration, world_spec, args.requests, args.batch_size)
        serve, checks = run_serve(calibration, world_spec, args.requests, args)
    print_table(solve, serve)
    same = sum(serve.answers.get(text) == answer for text, answer in solve.answers.items())
    print(
        f"\nttc serve: {args.requests} requests, {args.concurrency} at a time: "
        f"lost {checks['lost']}, duplicated {checks['duplicated']}, answered for another "
        f"problem {checks['wrong_problem']}; HTTP "
        + ", ".join(f"{k[5:]}: {v}" for k, v in checks.items() if k.startswith("http_"))
        + f"; the server counted {checks['served_200']} answered"
    )
    print(f"same answer as ttc solve: {same}/{len(solve.answers)}")
    ok = checks["lost"] == 0 and checks["duplicated"] == 0 and checks["wrong_problem"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
