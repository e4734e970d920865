"""What the emulator does to traffic besides answering: rolling-window rate limiting, an
optional request quota, injected faults (429, 5xx, slow, truncated and cut responses) and
request statistics.

The settings live in one mutable `EmulatorConfig` so tests can switch a fault storm on and off
on a running emulator (same catalogue, same port, same links in the payloads).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from ingestion.emulator.rendering import DEVELOPMENT, EXTENDED, MODES


@dataclass
class FaultConfig:
    """Shares of /v1 requests that get each fault (0..1), drawn from a seeded generator."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_slow: float = 0.0
    rate_truncated: float = 0.0
    rate_malformed: float = 0.0  # valid JSON of the wrong shape
    # A 200 whose connection drops mid-body: Content-Length announces the whole body, half of
    # it is sent, then the socket closes (what a client sees as "IncompleteRead"). Unlike
    # `rate_truncated`, a complete HTTP answer with half the JSON, this fails at the transport.
    rate_cut: float = 0.0
    slow_s: float = 2.0
    retry_after_s: int = 1  # Retry-After of injected 429s
    seed: int = 0
    # The next `token_failures` POST /api/token answer `token_failure_status` with an HTML body
    # (as a gateway in front of accounts.spotify.com does) and, if set, `token_retry_after_s`.
    token_failures: int = 0
    token_failure_status: int = 503
    token_retry_after_s: int | None = None
    # The next `token_cuts` POST /api/token (after any `token_failures`) have their 200 answer
    # cut mid-body the same way as `rate_cut`.
    token_cuts: int = 0
    # The next `clean_requests` /v1 requests get no injected fault (counted down, then the
    # shares above apply): lets a test break a run part-way, after its first chunk, say.
    clean_requests: int = 0

    def validate(self) -> None:
        for name in ("rate_429", "rate_5xx", "rate_slow", "rate_truncated", "rate_malformed",
                     "rate_cut"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name}={value} must be between 0 and 1")
        if (self.rate_429 + self.rate_5xx + self.rate_truncated + self.rate_malformed
                + self.rate_cut > 1.0):
            raise ValueError(
                "fault rates 429 + 5xx + truncated + malformed + cut must add up to <= 1")
        if self.token_failures < 0 or not 400 <= self.token_failure_status <= 599:
            raise ValueError("token_failures must be >= 0 and token_failure_status a 4xx/5xx code")
        if self.token_cuts < 0:
            raise ValueError("token_cuts must be >= 0")
        if self.clean_requests < 0:
            raise ValueError("clean_requests must be >= 0")


@dataclass
class EmulatorConfig:
    mode: str = EXTENDED
    rate_limit: int = 0  # requests per rolling window; 0 = unlimited
    rate_window_s: float = 30.0
    # The app's request quota: once `quota_requests` /v1 requests have been accepted (past the
    # rolling window) since the emulator started or `RequestQuota.reset()`, every /v1 request
    # answers 429 with reason QUOTA_EXCEEDED (Spotify's error body since 2026-07). 0 = no quota.
    # Spotify documents neither quota sizes nor its Retry-After on this 429: the header value
    # is the emulator's own choice, large so that a client that waits it out is easy to spot.
    quota_requests: int = 0
    quota_retry_after_s: int = 3600
    faults: FaultConfig = field(default_factory=FaultConfig)
    client_id: str | None = None  # None: any non-empty client id/secret pair gets a token
    client_secret: str | None = None
    token_ttl_s: int = 3600
    # False: a development-mode app whose owner lacks Spotify Premium; Spotify then answers
    # 403 to EVERY /v1 call (docs/spotify_api.md) while still handing out tokens.
    owner_premium: bool = True
    # Albums Spotify still lists under their artists but no longer serves: album id -> the
    # status GET /albums/{id} and /albums/{id}/tracks answer. 404 = gone: Spotify's 404
    # `Resource not found` there and a `null` entry in GET /albums?ids= (as for any id it does
    # not know). 5xx = that album's requests fail (a batch including it answers the same).
    album_faults: dict[str, int] = field(default_factory=dict)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.rate_limit < 0 or self.rate_window_s <= 0:
            raise ValueError("rate_limit must be >= 0 and rate_window_s > 0")
        if self.quota_requests < 0 or self.quota_retry_after_s < 0:
            raise ValueError("quota_requests and quota_retry_after_s must be >= 0")
        if not self.owner_premium and self.mode != DEVELOPMENT:
            raise ValueError("owner_premium=False applies to development-mode apps only: "
                             "set mode='development'")
        for album_id, status in self.album_faults.items():
            if status != 404 and not 500 <= status <= 599:
                raise ValueError(f"album_faults[{album_id!r}]={status}: use 404 or a 5xx status")
        self.faults.validate()


class RollingWindowLimiter:
    """At most `limit` accepted requests in any `window_s` seconds (rejected ones do not count)."""

    def __init__(self) -> None:
        self._accepted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, limit: int, window_s: float) -> int | None:
        """None if the request may go on, else the Retry-After in whole seconds."""
        if limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            while self._accepted and self._accepted[0] <= now - window_s:
                self._accepted.popleft()
            if len(self._accepted) < limit:
                self._accepted.append(now)
                return None
            return max(1, math.ceil(self._accepted[0] + window_s - now))


class RequestQuota:
    """Accepted /v1 requests counted against `EmulatorConfig.quota_requests`.

    Counted whether or not a quota is set, so a test can set one on a running emulator relative
    to what was already used (`used + n`), or `reset()` it as a quota period would."""

    def __init__(self) -> None:
        self.used = 0
        self._lock = threading.Lock()

    def exceeded(self, quota: int) -> bool:
        return quota > 0 and self.used >= quota

    def count(self) -> None:
        with self._lock:
            self.used += 1

    def reset(self) -> None:
        with self._lock:
            self.used = 0


@dataclass
class FaultDraw:
    status: int | None = None  # 429 or 5xx to answer instead
    slow: bool = False
    truncated: bool = False
    malformed: bool = False
    cut: bool = False  # the connection drops mid-body


class FaultInjector:
    def __init__(self) -> None:
        self._rng: random.Random | None = None
        self._seed: int | None = None
        self._lock = threading.Lock()

    def draw(self, faults: FaultConfig) -> FaultDraw:
        with self._lock:
            if self._rng is None or self._seed != faults.seed:
                self._rng = random.Random(faults.seed)  # noqa: S311 (simulation)
                self._seed = faults.seed
            roll, slow_roll, code_roll = self._rng.random(), self._rng.random(), self._rng.random()
        draw = FaultDraw(slow=slow_roll < faults.rate_slow)
        # "cut" comes last so that adding it left the draws of the other faults unchanged.
        kinds = ("429", "5xx", "truncated", "malformed", "cut")
        edges = (faults.rate_429, faults.rate_5xx, faults.rate_truncated, faults.rate_malformed,
                 faults.rate_cut)
        cumulative = 0.0
        for kind, share in zip(kinds, edges, strict=True):
            cumulative += share
            if roll < cumulative:
                if kind == "429":
                    draw.status = 429
                elif kind == "5xx":
                    draw.status = (500, 502, 503)[int(code_roll * 3)]
                elif kind == "truncated":
                    draw.truncated = True
                elif kind == "malformed":
                    draw.malformed = True
                else:
                    draw.cut = True
                break
        return draw


@dataclass
class TrafficStats:
    """Counters the tests and the benchmark read (GET /_emulator/stats or the handle)."""

    by_route: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    rate_limited: int = 0  # 429s of the rolling-window limiter
    quota_exceeded: int = 0  # 429s with reason QUOTA_EXCEEDED
    first_at: float | None = None
    last_at: float | None = None
    # (monotonic time, status) of recent /v1 answers: the benchmark's rate timeline
    timeline: deque = field(default_factory=lambda: deque(maxlen=100_000))

    def record(self, route: str, status: int) -> None:
        now = time.monotonic()
        self.by_route[route] += 1
        self.by_status[str(status)] += 1
        self.first_at = self.first_at or now
        self.last_at = now
        if route.startswith("/v1"):
            self.timeline.append((now, status))

    def snapshot(self) -> dict:
        return {
            "requests": sum(self.by_route.values()),
            "by_route": dict(self.by_route),
            "by_status": dict(self.by_status),
            "injected": dict(self.injected),
            "rate_limited": self.rate_limited,
            "quota_exceeded": self.quota_exceeded,
        }

    def reset(self) -> None:
        self.by_route.clear()
        self.by_status.clear()
        self.injected.clear()
        self.rate_limited = 0
        self.quota_exceeded = 0
        self.first_at = self.last_at = None
        self.timeline.clear()
