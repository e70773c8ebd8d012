"""Probes against a live server and the rules that judge their answers.

A probe is one HTTP request with the statuses the contract allows for it (DESIGN.md §4: missing/invalid
tenant header 400, unknown tenant 404, not a member 403, no/invalid token 401, role too low 403, unknown
object 404) and the markers of data its caller must never see. A probe fails when the server answers 5xx,
answers outside the allowed statuses, sends an error that is not problem+json with a request id, or lets
a forbidden marker through. Markers the probe itself sent (an id in its path, a slug in its `q`) are not
held against the answer: a 404's `instance` names the path it was asked for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

# Statuses an answer may have when the probe's outcome depends on the caller's role or the input.
ANY_REFUSAL = frozenset({400, 403, 404, 405, 409, 412, 415, 422})
ANY_ANSWER = frozenset({200, 201, 204, 304}) | ANY_REFUSAL
UNAUTHENTICATED_CODES = frozenset({"not_authenticated", "authentication_failed", "token_not_valid"})


@dataclass(frozen=True)
class Operation:
    """One tenant-scoped operation of the OpenAPI document."""

    method: str
    template: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def resource(self) -> str:
        """The first path segment after /api/v1/ (`tasks`, `members`, ...)."""
        return self.template.removeprefix("/api/v1/").split("/", 1)[0]

    @property
    def is_list(self) -> bool:
        return self.method == "GET" and "cursor" in self.query_params


def tenant_operations(schema: dict[str, Any]) -> list[Operation]:
    """Every operation whose parameters include X-Tenant-ID, in document order."""
    operations = []
    for template, methods in schema["paths"].items():
        for method, spec in methods.items():
            if not isinstance(spec, dict) or "responses" not in spec:
                continue
            parameters = spec.get("parameters", [])
            if not any(p["name"] == "X-Tenant-ID" and p["in"] == "header" for p in parameters):
                continue
            operations.append(
                Operation(
                    method=method.upper(),
                    template=template,
                    path_params=tuple(p["name"] for p in parameters if p["in"] == "path"),
                    query_params=tuple(p["name"] for p in parameters if p["in"] == "query"),
                )
            )
    return operations


@dataclass(frozen=True)
class Probe:
    kind: str
    operation: str  # "METHOD /template" it was derived from
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    expected: frozenset[int]
    forbidden: frozenset[str]
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None
    codes: frozenset[str] = frozenset()  # when set, the problem `code` must be one of these

    def sent_text(self) -> str:
        """Everything the probe itself put on the wire (markers found here are not leaks)."""
        return " ".join(
            [
                self.path,
                json.dumps(self.body),
                *(value for _, value in self.headers),
                *(v for _, v in self.params),
            ]
        )


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    status: int
    content_type: str
    text: str
    request_id: str


@dataclass
class Verdict:
    outcomes: list[Outcome]
    failures: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def summary(self, limit: int = 25) -> str:
        return "\n".join([*self.server_errors, *self.leaks, *self.failures][:limit])


def run_probes(base_url: str, probes: Sequence[Probe], *, threads: int = 6) -> list[Outcome]:
    """Send every probe, `threads` at a time, each thread on its own keep-alive session."""
    local = threading.local()

    def send(probe: Probe) -> Outcome:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        kwargs: dict[str, Any] = {"headers": dict(probe.headers), "params": list(probe.params), "timeout": 30}
        if probe.body is not None:
            kwargs["json"] = probe.body
        response = session.request(probe.method, base_url + probe.path, **kwargs)
        return Outcome(
            probe=probe,
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            text=response.text,
            request_id=response.headers.get("X-Request-ID", ""),
        )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(send, probes))


def judge(outcomes: Iterable[Outcome]) -> Verdict:
    verdict = Verdict(outcomes=list(outcomes))
    for outcome in verdict.outcomes:
        probe = outcome.probe
        where = f"[{probe.kind}] {probe.method} {probe.path} {dict(probe.params) or ''}"
        if outcome.status >= 500:
            verdict.server_errors.append(f"5xx {outcome.status} {where}: {outcome.text[:300]}")
            continue
        sent = probe.sent_text()
        leaked = sorted(marker for marker in probe.forbidden if marker in outcome.text and marker not in sent)
        if leaked:
            verdict.leaks.append(f"LEAK {where}: {leaked} in {outcome.text[:300]}")
        if outcome.status not in probe.expected:
            verdict.failures.append(
                f"status {outcome.status} not in {sorted(probe.expected)} {where}: {outcome.text[:300]}"
            )
            continue
        if outcome.status >= 400:
            verdict.failures.extend(f"{problem} {where}" for problem in _problem_defects(outcome))
    return verdict


def _problem_defects(outcome: Outcome) -> list[str]:
    """An error answer is problem+json with a stable code and the request id of its X-Request-ID header."""
    if outcome.probe.method == "HEAD":
        return []
    if not outcome.content_type.startswith("application/problem+json"):
        return [f"error {outcome.status} is {outcome.content_type!r}, not problem+json"]
    try:
        body = json.loads(outcome.text)
    except ValueError:
        return [f"error {outcome.status} body is not JSON"]
    defects = []
    if not body.get("request_id") or body.get("request_id") != outcome.request_id:
        defects.append(f"request_id {body.get('request_id')!r} != header {outcome.request_id!r}")
    if body.get("status") != outcome.status or not body.get("code"):
        defects.append(f"problem body {body} does not match status {outcome.status}")
    elif outcome.probe.codes and body["code"] not in outcome.probe.codes:
        defects.append(f"code {body['code']!r} not in {sorted(outcome.probe.codes)}")
    return defects
