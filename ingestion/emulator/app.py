"""The emulator's HTTP API (FastAPI): the token endpoint and the Web API endpoints the crawler
uses, with Spotify's shapes, errors, paging and the two app modes.

Every /v1 request goes through `_guard`: bearer token, request quota, rolling-window rate
limit, injected faults. Answers go through `_reply`, which may truncate or garble them, or cut
their connection mid-body, when told to.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from ingestion.emulator import rendering as render
from ingestion.emulator.catalogue import GROUP_ORDER, Catalogue
from ingestion.emulator.traffic import (
    EmulatorConfig,
    FaultDraw,
    FaultInjector,
    RequestQuota,
    RollingWindowLimiter,
    TrafficStats,
)
from ingestion.spotify_ids import is_spotify_id

BATCH_MAX = {"artists": 50, "albums": 20, "tracks": 50, "audio-features": 100}
FORBIDDEN_IN_DEVELOPMENT = "Forbidden: this endpoint is not available to development-mode apps"
# Spotify's text since 2026-02, as quoted by spotipy users (e.g. spotipy-dev/spotipy#1233).
PREMIUM_REQUIRED = (
    "Active premium subscription required for the owner of the app. When the subscription"
    " status changes, it can take a few hours before requests are allowed again."
)
# The `reason` Spotify adds to the error object of a 429 for an exceeded quota (since 2026-07).
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"


@dataclass
class EmulatorState:
    catalogue: Catalogue
    config: EmulatorConfig
    limiter: RollingWindowLimiter = field(default_factory=RollingWindowLimiter)
    quota: RequestQuota = field(default_factory=RequestQuota)
    faults: FaultInjector = field(default_factory=FaultInjector)
    stats: TrafficStats = field(default_factory=TrafficStats)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)


class ApiError(Exception):
    def __init__(self, status: int, message: str | None, headers: dict | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
        self.reason = reason  # the error object's `reason` (QUOTA_EXCEEDED) when there is one


def _json(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class InjectedConnectionCut(Exception):
    """Raised by a cut answer after its partial body. ASGI has no event to drop a connection:
    an app that fails after the response started is the one way, and the server then closes
    the socket without finishing the body."""


class _CutResponse(Response):
    """An answer whose connection drops halfway through the body it announced."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # raw_headers carry the Content-Length of the whole body: the client waits for more.
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2],
                    "more_body": True})
        raise InjectedConnectionCut("emulator fault: connection cut mid-body")


def _not_an_injected_cut(record: logging.LogRecord) -> bool:
    """Keep uvicorn from logging an injected cut as an application crash (with traceback)."""
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, InjectedConnectionCut)


# uvicorn reports exceptions of the app on this logger (both its HTTP implementations).
logging.getLogger("uvicorn.error").addFilter(_not_an_injected_cut)


def _error_body(status: int, message: str | None, reason: str | None = None) -> dict:
    error: dict = {"status": status}
    if message is not None:  # Spotify sometimes sends no message (e.g. audio-features 403)
        error["message"] = message
    if reason is not None:
        error["reason"] = reason
    return {"error": error}


def _route_label(request: Request) -> str:
    route = request.scope.get("route")
    return route.path.rstrip("/") if route is not None else "unknown"


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator


# --------------------------------------------------------------------------------------------
async def _guard(request: Request) -> FaultDraw:
    state = _state(request)
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "No token provided")
    expiry = state.tokens.get(header[7:].strip())
    if expiry is None:
        raise ApiError(401, "Invalid access token")
    if expiry < time.monotonic():
        raise ApiError(401, "The access token expired")
    config = state.config
    if not config.owner_premium:  # every call, whatever the endpoint (docs/spotify_api.md)
        raise ApiError(403, PREMIUM_REQUIRED)
    _check_quota(state)
    retry_after = state.limiter.admit(config.rate_limit, config.rate_window_s)
    if retry_after is not None:
        state.stats.rate_limited += 1
        raise ApiError(429, "API rate limit exceeded", {"Retry-After": str(retry_after)})
    state.quota.count()  # admitted: it uses the quota whatever it is answered
    draw = _draw_fault(state)
    if draw.slow:
        state.stats.injected["slow"] += 1
        await asyncio.sleep(config.faults.slow_s)
    if draw.status == 429:
        state.stats.injected["429"] += 1
        retry = str(config.faults.retry_after_s)
        raise ApiError(429, "API rate limit exceeded", {"Retry-After": retry})
    if draw.status is not None:
        state.stats.injected[str(draw.status)] += 1
        raise ApiError(draw.status, "Service unavailable" if draw.status == 503 else "Server error")
    return draw


def _check_quota(state: EmulatorState) -> None:
    """Once the quota is used up, every /v1 request is refused before the rolling window sees
    it (a refused request neither uses the quota nor takes a slot of the window)."""
    config = state.config
    if state.quota.exceeded(config.quota_requests):
        state.stats.quota_exceeded += 1
        # The rolling window's message on purpose: only `reason` tells the two 429s apart.
        raise ApiError(429, "API rate limit exceeded",
                       {"Retry-After": str(config.quota_retry_after_s)}, reason=QUOTA_EXCEEDED)


def _draw_fault(state: EmulatorState) -> FaultDraw:
    """The injected fault of this request, if any (none while `clean_requests` lasts)."""
    faults = state.config.faults
    if faults.clean_requests > 0:
        faults.clean_requests -= 1  # one event loop serves the app: no race on the counter
        return FaultDraw()
    return state.faults.draw(faults)


def _album_fault(state: EmulatorState, album_id: str) -> int | None:
    """The configured answer of an album that is listed but not served (None: served)."""
    status = state.config.album_faults.get(album_id)
    if status is not None:
        state.stats.injected[f"album_{status}"] += 1
    return status


def _raise_album_fault(state: EmulatorState, album_id: str) -> None:
    status = _album_fault(state, album_id)
    if status == 404:  # Spotify's answer for an album id it does not know (any more)
        raise ApiError(404, "Resource not found")
    if status is not None:
        raise ApiError(status, "Service unavailable" if status == 503 else "Server error")


def _reply(request: Request, draw: FaultDraw, payload: object) -> Response:
    state = _state(request)
    state.stats.record(_route_label(request), 200)
    if draw.malformed:
        state.stats.injected["malformed"] += 1
        return _json({"emulator_fault": "payload of an unexpected shape"})
    response = _json(payload)
    if draw.truncated:  # a complete HTTP answer carrying half the JSON
        state.stats.injected["truncated"] += 1
        body = bytes(response.body)
        return Response(body[: len(body) // 2], media_type="application/json")
    if draw.cut:  # the connection drops while the client reads the body
        state.stats.injected["cut"] += 1
        return _CutResponse(bytes(response.body), media_type="application/json")
    return response


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise ApiError(400, f"Invalid {name}")
    return value


def _page_limit(request: Request, dev_max: int, default: int, dev_default: int | None = None
                ) -> int:
    """`limit` within the mode's maximum; the default also differs per mode on some routes."""
    state = _state(request)
    if state.config.mode == render.DEVELOPMENT:
        high, default = dev_max, dev_default or default
    else:
        high = 50
    return _int_param(request, "limit", min(default, high), 1, high)


def _lookup(table: dict, spotify_id: str):
    if not is_spotify_id(spotify_id):
        raise ApiError(400, "Invalid base62 id")
    found = table.get(spotify_id)
    if found is None:
        raise ApiError(404, "Resource not found")
    return found


def _batch_ids(request: Request, kind: str) -> list[str]:
    if _state(request).config.mode == render.DEVELOPMENT:
        message = None if kind == "audio-features" else FORBIDDEN_IN_DEVELOPMENT
        raise ApiError(403, message)
    raw = request.query_params.get("ids", "")
    ids = [i for i in raw.split(",") if i]
    if not ids:
        raise ApiError(400, "Missing required parameter ids")
    if len(ids) > BATCH_MAX[kind]:
        raise ApiError(400, "Too many ids requested")
    if not all(is_spotify_id(i) for i in ids):
        raise ApiError(400, "Invalid base62 id")
    return ids


Guarded = Annotated[FaultDraw, Depends(_guard)]

# --------------------------------------------------------------------------------------------
router = APIRouter(prefix="/v1")


def _get(path: str):
    """Register a GET route with and without the trailing slash (spotipy uses both)."""

    def decorate(handler):
        router.add_api_route(path, handler, methods=["GET"])
        router.add_api_route(path + "/", handler, methods=["GET"], include_in_schema=False)
        return handler

    return decorate


@_get("/artists")
async def several_artists(request: Request, draw: Guarded) -> Response:
    st = _state(request)
    ids = _batch_ids(request, "artists")
    cat, mode = st.catalogue, st.config.mode
    items = [render.artist_full(cat.artists[i], mode) if i in cat.artists else None for i in ids]
    return _reply(request, draw, {"artists": items})


@_get("/artists/{artist_id}")
async def one_artist(request: Request, artist_id: str, draw: Guarded):
    st = _state(request)
    artist = _lookup(st.catalogue.artists, artist_id)
    return _reply(request, draw, render.artist_full(artist, st.config.mode))


@_get("/artists/{artist_id}/albums")
async def artist_albums(request: Request, artist_id: str, draw: Guarded):
    st = _state(request)
    cat = st.catalogue
    _lookup(cat.artists, artist_id)
    raw_groups = request.query_params.get("include_groups")
    groups = [g.strip() for g in raw_groups.split(",")] if raw_groups else list(GROUP_ORDER)
    if any(g not in GROUP_ORDER for g in groups):
        raise ApiError(400, "Invalid include_groups value")
    # docs/spotify_api.md: development-mode apps get limit <= 10, default 5, on artist albums.
    limit = _page_limit(request, dev_max=10, default=20, dev_default=5)
    offset = _int_param(request, "offset", 0, 0, 100_000)
    releases = [(a, g) for a, g in cat.releases.get(artist_id, []) if g in groups]
    items = [
        render.album_simple(cat, cat.albums[a], group=g)
        for a, g in releases[offset : offset + limit]
    ]
    params = {"include_groups": raw_groups} if raw_groups else {}
    page = render.paging(items, base_url=str(request.base_url).rstrip("/"),
                         path=f"/v1/artists/{artist_id}/albums", params=params,
                         offset=offset, limit=limit, total=len(releases))
    return _reply(request, draw, page)


@_get("/albums")
async def several_albums(request: Request, draw: Guarded) -> Response:
    st = _state(request)
    ids = _batch_ids(request, "albums")
    cat, base = st.catalogue, str(request.base_url).rstrip("/")
    failing = [i for i in ids if st.config.album_faults.get(i, 0) >= 500]
    if failing:  # an album whose requests fail takes its whole batch down with it
        _raise_album_fault(st, failing[0])
    # Unknown ids and albums that are gone (album_faults 404) are null, as Spotify answers.
    items = [
        render.album_full(cat, cat.albums[i], st.config.mode, base)
        if i in cat.albums and _album_fault(st, i) is None else None
        for i in ids
    ]
    return _reply(request, draw, {"albums": items})


@_get("/albums/{album_id}")
async def one_album(request: Request, album_id: str, draw: Guarded):
    st = _state(request)
    album = _lookup(st.catalogue.albums, album_id)
    _raise_album_fault(st, album_id)
    base = str(request.base_url).rstrip("/")
    return _reply(request, draw, render.album_full(st.catalogue, album, st.config.mode, base))


@_get("/albums/{album_id}/tracks")
async def album_tracks(request: Request, album_id: str, draw: Guarded):
    st = _state(request)
    album = _lookup(st.catalogue.albums, album_id)
    _raise_album_fault(st, album_id)
    limit = _int_param(request, "limit", 20, 1, 50)
    offset = _int_param(request, "offset", 0, 0, 100_000)
    base = str(request.base_url).rstrip("/")
    page = render.album_tracks_page(st.catalogue, album, st.config.mode, base, offset, limit)
    return _reply(request, draw, page)


@_get("/tracks")
async def several_tracks(request: Request, draw: Guarded) -> Response:
    st = _state(request)
    ids = _batch_ids(request, "tracks")
    cat = st.catalogue
    items = [
        render.track_full(cat, cat.tracks[i], st.config.mode) if i in cat.tracks else None
        for i in ids
    ]
    return _reply(request, draw, {"tracks": items})


@_get("/tracks/{track_id}")
async def one_track(request: Request, track_id: str, draw: Guarded):
    st = _state(request)
    track = _lookup(st.catalogue.tracks, track_id)
    return _reply(request, draw, render.track_full(st.catalogue, track, st.config.mode))


@_get("/audio-features")
async def several_audio_features(request: Request, draw: Guarded):
    st = _state(request)
    ids = _batch_ids(request, "audio-features")
    cat = st.catalogue
    items = [render.audio_features(cat.tracks[i]) if i in cat.tracks else None for i in ids]
    return _reply(request, draw, {"audio_features": items})


@_get("/audio-features/{track_id}")
async def one_audio_features(request: Request, track_id: str, draw: Guarded):
    st = _state(request)
    if st.config.mode == render.DEVELOPMENT:
        raise ApiError(403, None)
    track = _lookup(st.catalogue.tracks, track_id)
    features = render.audio_features(track)
    if features is None:
        raise ApiError(404, "analysis not found")
    return _reply(request, draw, features)


@_get("/search")
async def search(request: Request, draw: Guarded) -> Response:
    st = _state(request)
    query = request.query_params.get("q", "").strip()
    if not query:
        raise ApiError(400, "No search query")
    kinds = [k.strip() for k in request.query_params.get("type", "").split(",") if k.strip()]
    if not kinds:
        raise ApiError(400, "Missing parameter type")
    if kinds != ["artist"]:
        raise ApiError(400, "Unsupported search type: the emulator searches artists only")
    limit = _page_limit(request, dev_max=10, default=20)
    offset = _int_param(request, "offset", 0, 0, 1000)
    hits = st.catalogue.search_artists(query)
    items = [render.artist_full(a, st.config.mode) for a in hits[offset : offset + limit]]
    page = render.paging(items, base_url=str(request.base_url).rstrip("/"), path="/v1/search",
                         params={"q": query, "type": "artist"}, offset=offset, limit=limit,
                         total=len(hits))
    return _reply(request, draw, {"artists": page})


# --------------------------------------------------------------------------------------------
def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    if "client_id" in form:
        return form["client_id"], form.get("client_secret", "")
    return None


def _token_fault(state: EmulatorState) -> Response | None:
    """An injected token-endpoint failure (FaultConfig.token_failures, then token_cuts),
    else None."""
    faults = state.config.faults
    if faults.token_failures <= 0:
        return _token_cut(state)
    faults.token_failures -= 1  # one event loop serves the app: no race on the counter
    status = faults.token_failure_status
    state.stats.injected[f"token_{status}"] += 1
    state.stats.record("/api/token", status)
    headers = ({"Retry-After": str(faults.token_retry_after_s)}
               if faults.token_retry_after_s is not None else None)
    body = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>"
    return Response(body, status_code=status, media_type="text/html", headers=headers)


def _token_cut(state: EmulatorState) -> Response | None:
    """A token answer cut mid-body (FaultConfig.token_cuts), else None. Its token is never
    registered: the client cannot have read it."""
    faults = state.config.faults
    if faults.token_cuts <= 0:
        return None
    faults.token_cuts -= 1  # one event loop serves the app: no race on the counter
    state.stats.injected["token_cut"] += 1
    state.stats.record("/api/token", 200)
    body = json.dumps({"access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
                       "expires_in": state.config.token_ttl_s}).encode()
    return _CutResponse(body, media_type="application/json")


async def token(request: Request) -> Response:
    """OAuth client-credentials flow, as accounts.spotify.com/api/token answers it."""
    st = _state(request)
    # The request is read whole before any answer, as a server does: a connection closed with
    # part of the form still arriving is reset (RST), not ended, so an injected cut would reach
    # the client as "connection reset" or "incomplete read" by chance.
    body = await request.body()
    fault = _token_fault(st)
    if fault is not None:
        return fault
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    if form.get("grant_type") != "client_credentials":
        st.stats.record("/api/token", 400)
        return _json({"error": "unsupported_grant_type",
                      "error_description": "grant_type must be client_credentials"}, 400)
    creds = _client_credentials(request, form)
    cfg = st.config
    valid = creds is not None and all(creds) and (
        cfg.client_id is None or (creds[0] == cfg.client_id and creds[1] == cfg.client_secret)
    )
    if not valid:
        st.stats.record("/api/token", 400)
        return _json({"error": "invalid_client", "error_description": "Invalid client"}, 400)
    access_token = secrets.token_urlsafe(32)
    st.tokens[access_token] = time.monotonic() + cfg.token_ttl_s
    st.stats.record("/api/token", 200)
    return _json({"access_token": access_token, "token_type": "Bearer",
                  "expires_in": cfg.token_ttl_s})


def create_app(catalogue: Catalogue, config: EmulatorConfig | None = None) -> FastAPI:
    """The emulator as an ASGI app; `app.state.emulator` holds its catalogue, config, stats."""
    config = config or EmulatorConfig()
    config.validate()
    app = FastAPI(title="Spotify Web API emulator", redirect_slashes=False, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.emulator = EmulatorState(catalogue=catalogue, config=config)
    app.include_router(router)
    app.add_api_route("/api/token", token, methods=["POST"])

    @app.get("/_emulator/health")
    async def health(request: Request) -> dict:
        return {"ok": True, "mode": _state(request).config.mode}

    @app.get("/_emulator/stats")
    async def stats(request: Request, timeline: bool = False) -> dict:
        snapshot = _state(request).stats.snapshot()
        snapshot["quota_used"] = _state(request).quota.used
        if timeline:  # [seconds, status] of recent /v1 answers (for the rate benchmark)
            snapshot["timeline"] = list(_state(request).stats.timeline)
        return snapshot

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        _state(request).stats.record(_route_label(request), exc.status)
        return _json(_error_body(exc.status, exc.message, exc.reason), exc.status, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        _state(request).stats.record("unknown", exc.status_code)
        message = "Service not found" if exc.status_code == 404 else str(exc.detail)
        return _json(_error_body(exc.status_code, message), exc.status_code)

    return app
