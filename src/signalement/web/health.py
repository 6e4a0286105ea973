"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signalement.platform import Platform
from signalement.store.db import read
from signalement.store.tables import reports
from signalement.web.deps import PlatformDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the blob store can be used")
def readyz(platform: PlatformDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with read(platform.engine) as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    blob_dir = platform.blobs.root
    checks["blobs"] = "ok" if blob_dir.is_dir() and (blob_dir / "tmp").is_dir() else "error: missing folder"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _StateCollector(Collector):
    """Reports by status and jobs waiting, read from the database at scrape time."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily("signalement_reports", "Reports by status", labels=["status"])
        pending = GaugeMetricFamily("signalement_jobs_pending", "Jobs queued or running")
        with read(self.platform.engine) as conn:
            for status, count in conn.execute(select(reports.c.status, func.count()).group_by(reports.c.status)):
                by_status.add_metric([status], count)
            pending.add_metric([], self.platform.queue.pending_count(conn))
        yield by_status
        yield pending


REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per application, so that several apps in one process (tests) stay apart."""

    def __init__(self, platform: Platform) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StateCollector(platform))
        self.requests = Histogram(
            "signalement_http_request_duration_seconds",
            "Time to answer HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=REQUEST_SECONDS_BUCKETS,
        )


class RequestMetrics:
    """Pure ASGI middleware: request durations by route template (never by raw path: ids would explode)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.histogram = metrics.requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.histogram.labels(scope["method"], path, str(status["code"])).observe(time.perf_counter() - start)
