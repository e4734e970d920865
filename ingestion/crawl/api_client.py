"""The crawler's Spotify client: spotipy with our own retry policy.

spotipy's built-in urllib3 retries honour Retry-After without any cap and turn exhausted 5xx
retries into a fake 429, so they are switched off (retries=0) and every call goes through
`SpotifyApi.call`: 429 -> wait Retry-After; 5xx, connection errors (a connection cut while
the body is read too) and truncated/malformed bodies -> exponential backoff with jitter
(tenacity), at most `crawl_max_retries` times; all waiting in a run is capped by
`crawl_max_total_wait_s` (then `CrawlStopped`). A 429 waits at least
`crawl_min_retry_after_s`, so endless 429s always reach that cap. A 429 whose error body says
`"reason": "QUOTA_EXCEEDED"` is not the rolling window: the app's quota is used up, waiting
seconds cannot help, so it stops the run at once (`CrawlStopped`) without touching the budget.

The token request goes the same way: an OAuth refusal (400/401, `invalid_client`...) stops the
run as a credentials problem; 429, 5xx and garbled answers from the token endpoint are
transient (Retry-After honoured). Messages never carry a response body or a secret.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOauthError
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from lakehouse.settings import Settings

# spotipy logs every HTTP error at ERROR level; we count and report them ourselves.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class ApiEndpoint:
    """Where to crawl: real Spotify or an emulator."""

    api_url: str
    token_url: str
    client_id: str
    client_secret: str
    source: str  # "spotify" | "emulator" (goes into every document's _source)

    def __repr__(self) -> str:  # never show the secret
        return f"ApiEndpoint(api_url={self.api_url!r}, source={self.source!r})"


class CrawlStopped(RuntimeError):
    """The run must stop now (wait budget spent, credentials refused); work stays pending."""


class RequestFailed(RuntimeError):
    """One request failed for good (after retries, or a 4xx); the work item is recorded."""

    def __init__(self, endpoint: str, status: int | None, reason: str) -> None:
        super().__init__(f"{endpoint}: {reason}")
        self.endpoint, self.status, self.reason = endpoint, status, reason


class TokenEndpointError(Exception):
    """The token endpoint did not hand out a token: its HTTP status, the OAuth `error` code if
    the answer was OAuth JSON, and Retry-After if it sent one. Never carries the body."""

    def __init__(self, status: int, oauth_error: str | None, retry_after: float | None) -> None:
        super().__init__(f"token endpoint: HTTP {status}")
        self.status, self.oauth_error, self.retry_after = status, oauth_error, retry_after


# The connection failed, before or during the answer: ChunkedEncodingError is a connection
# dropped while the body was being read ("IncompleteRead"), ContentDecodingError a compressed
# body that arrived garbled. Neither is a ConnectionError, but both are as temporary as one.
CONNECTION_TROUBLE: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

# The error object's `reason` on a 429 for an exceeded app quota (Spotify, since 2026-07).
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"

# Refusals of the client credentials themselves (RFC 6749 5.2): retrying cannot help.
OAUTH_REFUSALS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant",
                            "invalid_request", "unsupported_grant_type", "invalid_scope"})


class _ClientCredentials(SpotifyClientCredentials):
    """spotipy's client-credentials flow, but a failed token request raises
    `TokenEndpointError` with the status and Retry-After that spotipy's SpotifyOauthError drops
    (and without the raw body it puts in its message)."""

    def _handle_oauth_error(self, http_error: requests.HTTPError) -> None:
        response = http_error.response
        raise TokenEndpointError(response.status_code, _oauth_error_code(response),
                                 _header_retry_after(response.headers)) from None

    def _request_access_token(self) -> dict:
        try:
            token_info = super()._request_access_token()
        except ValueError:  # a 200 whose body is not JSON (requests' JSONDecodeError)
            raise TokenEndpointError(200, None, None) from None
        if not isinstance(token_info, dict) or not {"access_token", "expires_in"} <= set(
            token_info
        ):
            raise TokenEndpointError(200, None, None)
        return token_info


def _oauth_error_code(response: requests.Response) -> str | None:
    """The OAuth `error` code of a JSON answer when it looks like one (a short identifier)."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) and code.isidentifier() and len(code) <= 40 else None


def _header_retry_after(headers: Any) -> float | None:
    if not headers or headers.get("Retry-After") is None:
        return None
    return _retry_after(headers)


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, connection trouble, a truncated/malformed body."""

    def __init__(self, kind: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.retry_after = kind, reason, retry_after


@dataclass
class RequestStats:
    by_endpoint: Counter = field(default_factory=Counter)
    rate_limited: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    malformed: int = 0
    retries: int = 0
    waited_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())


def _retry_after(headers: Any) -> float:
    """Retry-After in seconds (1 when missing or unreadable; the caller applies the minimum)."""
    try:
        return max(0.0, float((headers or {}).get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


class SpotifyApi:
    def __init__(
        self,
        endpoint: ApiEndpoint,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.stats = RequestStats()
        self._sleep = sleep
        # Evidence that the app may call the API at all: HTTP answers other than 403 so far,
        # and the 403s seen before the first of them (see `_refused_everywhere`).
        self._answered = 0
        self._forbidden_before_any_answer = 0
        session = requests.Session()  # a plain adapter: no urllib3 retries behind our back
        auth = _ClientCredentials(
            client_id=endpoint.client_id,
            client_secret=endpoint.client_secret,
            cache_handler=MemoryCacheHandler(),
            requests_session=session,
            requests_timeout=settings.crawl_request_timeout_s,
        )
        auth.OAUTH_TOKEN_URL = endpoint.token_url
        self._auth = auth
        self.sp = spotipy.Spotify(
            auth_manager=auth,
            requests_session=session,
            requests_timeout=settings.crawl_request_timeout_s,
            retries=0,
            status_retries=0,
        )
        self.sp.prefix = endpoint.api_url.rstrip("/") + "/"  # spotipy needs the slash

    # ----------------------------------------------------------------------------------------
    def call(self, label: str, fn: Callable[..., Any], *args: Any, expect: str, **kwargs: Any):
        """Run one API call with the retry policy; `expect` is a key the answer must have."""
        failures = Counter()  # non-429 failures of this call

        def attempt() -> Any:
            self.stats.by_endpoint[label] += 1
            return self._attempt(label, fn, args, kwargs, expect)

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception()
            if isinstance(exc, _Transient) and exc.kind != "429":
                failures[exc.kind] += 1
            return sum(failures.values()) > self.settings.crawl_max_retries

        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            stop=stop,
            wait=self._wait_for,
            sleep=self._wait,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            raise RequestFailed(label, None, f"gave up after retries: {exc.reason}") from None

    def _attempt(self, label: str, fn: Callable, args: tuple, kwargs: dict, expect: str) -> Any:
        try:
            result = fn(*args, **kwargs)
        except spotipy.SpotifyException as exc:
            status = exc.http_status
            message = _short_message(exc.msg)
            if status == 429:
                self.stats.rate_limited += 1
                if _is_quota_exceeded(exc):
                    raise CrawlStopped(_quota_message(exc.headers)) from None
                raise _Transient("429", "rate limited (429)", _retry_after(exc.headers)) from None
            if status is not None and status >= 500:
                self.stats.server_errors += 1
                raise _Transient("5xx", f"server error {status}: {message}") from None
            if status == 401:
                raise CrawlStopped(f"the API refused the access token (401: {message})") from None
            if status == 403:
                self._refused_everywhere(message)
            elif status is not None:
                self._answered += 1
            raise RequestFailed(label, status, f"HTTP {status}: {message}") from None
        except TokenEndpointError as exc:
            raise self._token_failure(exc) from None
        except SpotifyOauthError:  # raised by spotipy paths other than the token request
            raise CrawlStopped(
                "could not get an access token: check SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET"
            ) from None
        except CONNECTION_TROUBLE as exc:
            self.stats.connection_errors += 1
            raise _Transient("connection", f"connection error: {type(exc).__name__}") from None
        if not isinstance(result, dict) or expect not in result:
            self.stats.malformed += 1
            raise _Transient("malformed", f"malformed response (no '{expect}': truncated or "
                                          "unexpected JSON)")
        self._answered += 1
        return result

    def _refused_everywhere(self, message: str) -> None:
        """Stop when the first two HTTP answers of a run are both 403.

        One 403 is normal (a development-mode app's batch probe, audio features), but an app
        whose owner lacks Spotify Premium gets 403 on EVERY call (docs/spotify_api.md): read as
        per-item failures, every artist would be marked failed and retried forever while the
        run reports success. The mode probe plus one single-object call settle it."""
        if self._answered:
            return
        self._forbidden_before_any_answer += 1
        if self._forbidden_before_any_answer >= 2:
            raise CrawlStopped(
                f"every API call so far was refused with 403 ({message}): Spotify refuses all "
                "calls of a development-mode app whose owner has no Spotify Premium "
                "subscription. Fix: give the app owner's account Spotify Premium, or check the "
                "app in the Spotify developer dashboard (https://developer.spotify.com/dashboard)"
                "; nothing was changed, queued work stays pending"
            )

    def _token_failure(self, exc: TokenEndpointError) -> Exception:
        """A refused token request stops the run; an unavailable token endpoint is retried."""
        status, code = exc.status, exc.oauth_error
        if code in OAUTH_REFUSALS or status in (400, 401):
            return CrawlStopped(
                f"the token endpoint refused the client credentials (HTTP {status}"
                f"{', ' + code if code else ''}): check SPOTIFY_CLIENT_ID / "
                "SPOTIFY_CLIENT_SECRET (the app's Client ID and Client secret in the Spotify "
                "developer dashboard)"
            )
        if status == 429:
            self.stats.rate_limited += 1
            return _Transient("429", "token endpoint rate limited (429)",
                              exc.retry_after if exc.retry_after is not None else 1.0)
        if status >= 500 or status == 408:
            if status >= 500:
                self.stats.server_errors += 1
            else:
                self.stats.connection_errors += 1
            return _Transient("token", f"token endpoint unavailable (HTTP {status})",
                              exc.retry_after)
        if status == 200:  # a 200 without a usable token: truncated or unexpected JSON
            self.stats.malformed += 1
            return _Transient("malformed", "malformed token endpoint answer")
        return CrawlStopped(
            f"the token endpoint answered HTTP {status}: check SPOTIFY_TOKEN_URL "
            "(Spotify's is https://accounts.spotify.com/api/token)"
        )

    def _wait_for(self, state: RetryCallState) -> float:
        exc = state.outcome.exception()
        if isinstance(exc, _Transient) and (exc.kind == "429" or exc.retry_after is not None):
            # A 429, or e.g. a 503 from the token endpoint that says when to come back. 429s do
            # not count as failed attempts, so only the wait budget ends a run of them: a floor
            # (> 0, enforced by Settings) keeps `Retry-After: 0` from looping forever.
            return max(exc.retry_after or 0.0, self.settings.crawl_min_retry_after_s)
        backoff = wait_random_exponential(
            multiplier=self.settings.crawl_backoff_base_s, max=self.settings.crawl_backoff_max_s
        )
        return backoff(state)

    def _wait(self, seconds: float) -> None:
        budget = self.settings.crawl_max_total_wait_s - self.stats.waited_s
        if seconds > budget:
            raise CrawlStopped(
                f"waiting {seconds:g}s more would exceed the run's wait budget "
                f"(CRAWL_MAX_TOTAL_WAIT_S={self.settings.crawl_max_total_wait_s:g}s, "
                f"{self.stats.waited_s:.3g}s already waited); remaining work stays queued"
            )
        self.stats.retries += 1
        self.stats.waited_s += seconds
        if seconds > 0:
            self._sleep(seconds)

    # -- the endpoints the crawler uses ---------------------------------------------------------
    def search_artists(self, name: str, limit: int) -> dict:
        return self.call("search", self.sp.search, q=name, type="artist", limit=limit,
                         expect="artists")["artists"]

    def artists(self, ids: list[str]) -> list[dict | None]:
        return self.call("artists_batch", self.sp.artists, ids, expect="artists")["artists"]

    def artist(self, artist_id: str) -> dict:
        return self.call("artist", self.sp.artist, artist_id, expect="id")

    def artist_albums(self, artist_id: str, limit: int) -> dict:
        return self.call("artist_albums", self.sp.artist_albums, artist_id,
                         include_groups="album,single,compilation,appears_on", limit=limit,
                         expect="items")

    def next_page(self, label: str, page: dict) -> dict:
        return self.call(label, self.sp.next, page, expect="items")

    def albums(self, ids: list[str]) -> list[dict | None]:
        return self.call("albums_batch", self.sp.albums, ids, expect="albums")["albums"]

    def album(self, album_id: str) -> dict:
        return self.call("album", self.sp.album, album_id, expect="tracks")

    def tracks(self, ids: list[str]) -> list[dict | None]:
        return self.call("tracks_batch", self.sp.tracks, ids, expect="tracks")["tracks"]

    def audio_features(self, ids: list[str]) -> list[dict | None]:
        # spotipy's audio_features() warns and hides the raw answer: call the path directly.
        return self.call("audio_features_batch", self.sp._get,
                         "audio-features/?ids=" + ",".join(ids),
                         expect="audio_features")["audio_features"]


def _is_quota_exceeded(exc: spotipy.SpotifyException) -> bool:
    """spotipy 2.26 copies the error object's `reason` into `exc.reason` (for an HTTP error
    answer; after its own exhausted retries `reason` is urllib3's, which is never a str)."""
    reason = getattr(exc, "reason", None)
    return isinstance(reason, str) and reason.strip().upper() == QUOTA_EXCEEDED


def _quota_message(headers: Any) -> str:
    """Why the run stopped on a quota 429 and what to do; status and header only, no body."""
    retry_after = _header_retry_after(headers)
    told = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
    return (
        f"the Spotify API says this app's quota is exceeded (429 QUOTA_EXCEEDED{told}): the "
        "crawl stopped without waiting, since retrying cannot help until the quota resets; "
        "pending artists stay queued for the next run. Wait for the quota to reset, or request "
        "an extended quota for the app in the Spotify developer dashboard "
        "(https://developer.spotify.com/dashboard)"
    )


def _short_message(message: str | None) -> str:
    # spotipy prefixes the request URL ("http://...:\n msg"); keep only Spotify's message.
    text = (message or "").split(":\n", 1)[-1].strip()
    if text.startswith("<"):  # spotipy falls back to the raw body when it is not JSON
        return "no message (non-JSON answer)"
    return text[:200] or "no message"
