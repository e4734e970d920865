"""The crawl itself: detect the app mode, resolve seeds, then crawl queued artists in chunks.

One chunk = a few artists whose releases are fetched together, so batch endpoints are used to
the full (20 albums, 50 tracks, 100 audio features, 50 artists per request) instead of one
request per album or track. Per chunk: list every page of each artist's albums -> fetch the
albums not already complete -> follow every page of their tracks -> full tracks -> audio
features -> the docs of every artist credited on them. Data is written before the markers that
say it is complete, so a kill at any point only means the next run redoes the chunk.

A failed album fails its artists (retried next run), except when the API says the album does
not exist (404 / null) in `crawl_album_give_up_after` runs: it is then given up, skipped from
then on, and no longer keeps its artists failed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from ingestion.crawl.api_client import CrawlStopped, RequestFailed, SpotifyApi
from ingestion.crawl.seeds import classify, match_artist
from ingestion.crawl.state import DONE, FAILED, NOT_FOUND, CrawlState
from ingestion.crawl.store import DocumentStore
from ingestion.crawl.summary import CrawlSummary
from lakehouse.settings import Settings

log = logging.getLogger(__name__)

EXTENDED, DEVELOPMENT = "extended", "development"
# Well-formed ids used to probe what the app may call (any id works: unknown ones give null).
PROBE_ARTIST_ID = "4tZwfgrHOc3mvqYlEYSvVi"
PROBE_TRACK_ID = "0DiWol3AO6WpXZgp0goxAV"
DEV_MODE_PAGE_MAX = 10
# Why a track has no features when the API answered for it: not asked again by the backfill.
NULL_ANSWER = "no audio features for this track (null answer)"


@dataclass
class Progress:
    artists_total: int
    artists_processed: int
    requests: int
    stage: str


ProgressCallback = Callable[[Progress], None]


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


@dataclass
class _Chunk:
    """Working set of one chunk of artists."""

    artists: list[str]
    failed: dict[str, str] = field(default_factory=dict)  # artist -> reason
    marked: set[str] = field(default_factory=set)  # failed artists already recorded
    owners: dict[str, set[str]] = field(default_factory=dict)  # album -> chunk artists
    albums: dict[str, dict] = field(default_factory=dict)  # album id -> full album payload
    album_tracks: dict[str, list[dict]] = field(default_factory=dict)  # album -> simple tracks

    def fail_album(self, album_id: str, reason: str) -> None:
        self.drop_album(album_id)
        for artist_id in self.owners.get(album_id, ()):
            self.failed.setdefault(artist_id, reason)

    def drop_album(self, album_id: str) -> None:
        """Leave the album out of this chunk without failing its artists (given up)."""
        self.albums.pop(album_id, None)
        self.album_tracks.pop(album_id, None)


class _Writer:
    """One background thread that stores fetched chunks in order, so MongoDB writes overlap
    the next chunk's requests; at most `max_in_flight` chunks wait (bounded memory)."""

    def __init__(self, max_in_flight: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crawl-writer")
        self._futures: deque[Future] = deque()
        self._max = max_in_flight

    def submit(self, fn: Callable[..., None], *args: object) -> None:
        self._futures.append(self._pool.submit(fn, *args))
        while len(self._futures) > self._max or (self._futures and self._futures[0].done()):
            self._futures.popleft().result()  # re-raises a failed write here

    def drain(self) -> None:
        while self._futures:
            self._futures.popleft().result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


class Crawler:
    def __init__(self, api: SpotifyApi, db: Database, settings: Settings, crawl_id: str,
                 progress: ProgressCallback | None = None) -> None:
        self.api, self.db, self.settings = api, db, settings
        self.state = CrawlState(db, crawl_id)
        self.store = DocumentStore(db, api.endpoint.source, crawl_id, api.endpoint.api_url)
        self.summary = CrawlSummary(crawl_id=crawl_id, source=api.endpoint.source)
        self.progress = progress or (lambda _p: None)
        self.mode = EXTENDED
        self.features_reason: str | None = None  # why no features this run (None: available)
        self.fetched_artists: set[str] = set()
        self.completed_albums: set[str] = set()  # this run, possibly not yet written
        self.given_up_albums: set[str] = set()  # this run (already written)
        # Albums answered 404 / null in this run -> (reason, runs with that answer so far):
        # counted once per run, and a later chunk listing them again does not ask again.
        self.not_found_albums: dict[str, tuple[str, int]] = {}
        self.in_flight: set[str] = set()  # artists fetched, waiting for the writer
        self.writer = _Writer()

    # ----------------------------------------------------------------------------------------
    def run(self, seeds: list[str], artists_per_run: int, *,
            retry_given_up: bool = False) -> CrawlSummary:
        started = time.monotonic()
        self.state.ensure_indexes()
        self.state.start_run({"source": self.api.endpoint.source})
        status = "failed"
        try:
            if retry_given_up:
                self.summary.albums_reset = self.state.reset_given_up_albums()
            self._detect_mode()
            self._resolve_seeds(seeds)
            self._retry_artist_docs()
            self._backfill_features()
            self._crawl_queue(artists_per_run)
            self.writer.drain()
            status = "completed"
        except CrawlStopped as exc:
            self.writer.drain()  # chunks fetched before the stop are still stored
            self.summary.stopped_reason = str(exc)
            status = "stopped"
        finally:
            self.writer.shutdown()
            self._finish_recording(started, status)
        return self.summary

    def _finish_recording(self, started: float, status: str) -> None:
        try:
            self._finish(started, status)
        except ConnectionFailure:
            if status != "failed":
                raise
            # MongoDB is gone, which is likely why the run failed: that error, on its way out,
            # says so. This run's record stays "running"; the next crawl marks it interrupted.
            log.warning("crawl %s: MongoDB failed, so the end of the run is not recorded",
                        self.summary.crawl_id)

    def _crawl_queue(self, artists_per_run: int) -> None:
        """Failed artists first (every run), then up to `artists_per_run` pending ones,
        including artists discovered during this run."""
        size = max(1, self.settings.crawl_chunk_artists)
        retries = self.state.failed()
        budget = max(0, artists_per_run)
        processed = 0

        def report() -> None:
            left = min(budget, self.state.count("pending")) if budget else 0
            total = max(processed + len(retries) + left - len(self.in_flight), processed)
            self.progress(Progress(total, processed, self.api.stats.total, "crawling"))

        report()
        while retries:
            chunk, retries = retries[:size], retries[size:]
            self._crawl_chunk(_Chunk(chunk))
            processed += len(chunk)
            report()
        while budget > 0:
            chunk = self._next_pending(min(size, budget))
            if not chunk:
                self.writer.drain()  # discoveries may still be on their way to the queue
                chunk = self._next_pending(min(size, budget))
                if not chunk:
                    break
            self._crawl_chunk(_Chunk(chunk))
            processed += len(chunk)
            budget -= len(chunk)
            report()

    def _next_pending(self, limit: int) -> list[str]:
        """Pending artists not already fetched and waiting for the writer."""
        in_flight = set(self.in_flight)
        candidates = self.state.pending(limit + len(in_flight))
        return [a for a in candidates if a not in in_flight][:limit]

    def _finish(self, started: float, status: str) -> None:
        s, stats = self.summary, self.api.stats
        s.mode = self.mode
        s.features_available = self.features_reason is None
        s.features_note = self.features_reason or "audio features available"
        s.requests_by_endpoint = dict(stats.by_endpoint)
        s.requests_total = stats.total
        s.rate_limited, s.server_errors = stats.rate_limited, stats.server_errors
        s.connection_errors, s.malformed_responses = stats.connection_errors, stats.malformed
        s.retries, s.waited_s = stats.retries, round(stats.waited_s, 3)
        s.entities = {name: asdict(c) for name, c in self.store.counts.items()}
        s.artists_pending = self.state.count("pending")
        s.elapsed_s = round(time.monotonic() - started, 3)
        record = s.to_dict()
        record.pop("crawl_id")
        self.state.finish_run(status, record)

    # -- mode ---------------------------------------------------------------------------------
    def _detect_mode(self) -> None:
        forced = self.settings.crawl_mode.strip().lower()
        if forced in (EXTENDED, DEVELOPMENT):
            self.mode = forced
        elif forced != "auto":
            raise CrawlStopped(f"CRAWL_MODE={forced!r} is not auto, extended or development")
        else:
            try:
                self.api.artists([PROBE_ARTIST_ID])
                self.mode = EXTENDED
            except RequestFailed as exc:
                if exc.status != 403:
                    raise CrawlStopped(f"could not detect the app mode: {exc.reason}") from None
                self.mode = DEVELOPMENT
        if self.mode == DEVELOPMENT:
            # Also when forced: a refused probe then stops the run at the first refused real
            # call, before any seed or artist is marked failed for it.
            self._probe_single_object()
            self.features_reason = ("development-mode app: audio features are not available "
                                    "(403 since 2024-11-27)")
            return
        try:
            self.api.audio_features([PROBE_TRACK_ID])
        except RequestFailed as exc:
            # Only a refusal means "no features"; a transient failure leaves them to the
            # per-batch calls, whose failures are recorded and retried.
            if exc.status in (403, 404):
                self.features_reason = f"audio features refused for this app ({exc.reason})"

    def _probe_single_object(self) -> None:
        """A development-mode app may still call GET /artists/{id}; a 403 there too means the
        app may call nothing (owner without Premium) and SpotifyApi stops the run."""
        with contextlib.suppress(RequestFailed):  # 404 or 200: not refused everywhere
            self.api.artist(PROBE_ARTIST_ID)

    def _page_limit(self) -> int:
        limit = self.settings.crawl_page_limit
        return min(limit, DEV_MODE_PAGE_MAX) if self.mode == DEVELOPMENT else min(limit, 50)

    # -- seeds --------------------------------------------------------------------------------
    def _resolve_seeds(self, seeds: list[str]) -> None:
        for entry in seeds:
            known = self.state.seed(entry)
            if known and known.get("status") == "resolved":
                self.summary.seeds_resolved += 1
                continue
            if known and known.get("status") == "unresolved":
                self.summary.seeds_unresolved.append({"entry": entry, "reason": known["reason"]})
                continue
            self._resolve_seed(entry)

    def _resolve_seed(self, entry: str) -> None:
        ref = classify(entry)
        if ref.problem:
            self._unresolved(entry, ref.problem)
            return
        if ref.artist_id:
            self.state.record_seed(entry, status="resolved", artist_id=ref.artist_id, match="id",
                                   reason=None)
            self.state.enqueue([ref.artist_id], origin="seed", via=entry)
            self.summary.seeds_resolved += 1
            return
        try:
            page = self.api.search_artists(entry, limit=min(10, self._page_limit()))
        except RequestFailed as exc:
            # A transient failure: the seed stays "failed" and is searched again next run.
            self.state.record_seed(entry, status="failed", reason=f"search failed: {exc.reason}")
            self.summary.seeds_unresolved.append({"entry": entry, "reason": exc.reason})
            return
        match = match_artist(entry, page.get("items") or [],
                             self.settings.crawl_name_match_min_score)
        if match.artist is None:
            self._unresolved(entry, match.reason or "no match")
            return
        self.state.record_seed(entry, status="resolved", artist_id=match.artist["id"],
                               matched_name=match.artist.get("name"), match=match.how,
                               score=match.score, reason=None)
        self.state.enqueue([match.artist["id"]], origin="seed", via=entry)
        self.summary.seeds_resolved += 1

    def _unresolved(self, entry: str, reason: str) -> None:
        self.state.record_seed(entry, status="unresolved", reason=reason)
        self.summary.seeds_unresolved.append({"entry": entry, "reason": reason})

    # -- one chunk ----------------------------------------------------------------------------
    def _crawl_chunk(self, chunk: _Chunk) -> None:
        """Fetch one chunk, then hand its writes to the writer thread and go on fetching."""
        self._list_albums(chunk)
        self._fetch_albums(chunk)
        self._follow_track_pages(chunk)
        tracks = self._fetch_tracks(chunk)
        features, unavailable = self._fetch_features(chunk, tracks)
        artist_docs = self._fetch_artist_docs(chunk, tracks)
        self.completed_albums.update(a for a in chunk.albums if a in tracks)
        self.in_flight.update(chunk.artists)
        self.writer.submit(self._persist, chunk, tracks, features, unavailable, artist_docs)

    def _persist(self, chunk: _Chunk, tracks: dict[str, list[dict]], features: list[dict],
                 unavailable: dict[str, str], artist_docs: list[dict]) -> None:
        """Writer thread. Data first, then the markers that say it is complete (kill -9 safe)."""
        self.store.upsert("artists", artist_docs)
        self.store.upsert("albums", list(chunk.albums.values()))
        self.store.upsert("tracks", [t for album in tracks.values() for t in album])
        self.store.upsert("audio_features", features)
        self.summary.features_unavailable += self.state.record_features_unavailable(unavailable)
        self._queue_discovered(chunk, tracks)
        complete = {a: len(tracks[a]) for a in chunk.albums if a in tracks}
        self.state.mark_albums_done(complete)
        self.state.resolve_failures("album", complete.keys())
        self.summary.albums_completed += len(complete)
        self._settle_artists(chunk)
        self.in_flight.difference_update(chunk.artists)

    def _list_albums(self, chunk: _Chunk) -> None:
        limit = self._page_limit()
        for artist_id in chunk.artists:
            try:
                page = self.api.artist_albums(artist_id, limit=limit)
                items = list(page["items"])
                while page.get("next"):
                    page = self.api.next_page("artist_albums", page)
                    items += page["items"]
            except RequestFailed as exc:
                status = NOT_FOUND if exc.status == 404 else FAILED
                chunk.failed[artist_id] = f"artist albums: {exc.reason}"
                chunk.marked.add(artist_id)
                self._artist_failed(artist_id, chunk.failed[artist_id], status)
                continue
            for album in items:
                chunk.owners.setdefault(album["id"], set()).add(artist_id)
        listed = set(chunk.owners)
        this_run = self.completed_albums | self.given_up_albums
        already = (listed & this_run) | self.state.settled_albums(listed - this_run)
        for album_id in already:  # complete or given up, this run or earlier: nothing to fetch
            chunk.owners.pop(album_id)

    def _fetch_albums(self, chunk: _Chunk) -> None:
        wanted = [a for a in chunk.owners if a not in self.not_found_albums]
        for album_id in [a for a in chunk.owners if a in self.not_found_albums]:
            self._album_not_found(chunk, album_id, self.not_found_albums[album_id][0])
        if self.mode == EXTENDED:
            for batch in _chunks(wanted, self.settings.crawl_batch_albums):
                try:
                    answers = self.api.albums(batch)
                except RequestFailed as exc:
                    for album_id in batch:
                        self._album_failed(chunk, album_id, f"albums batch: {exc.reason}")
                    continue
                for album_id, album in zip(batch, answers, strict=False):
                    if album is None:  # Spotify's answer for an id it does not know
                        self._album_not_found(chunk, album_id, "album not returned (null)")
                    else:
                        chunk.albums[album_id] = album
            return
        for album_id in wanted:
            try:
                chunk.albums[album_id] = self.api.album(album_id)
            except RequestFailed as exc:
                if exc.status == 404:
                    self._album_not_found(chunk, album_id, f"album: {exc.reason}")
                else:
                    self._album_failed(chunk, album_id, f"album: {exc.reason}")

    def _follow_track_pages(self, chunk: _Chunk) -> None:
        for album_id, album in list(chunk.albums.items()):
            page = album["tracks"]
            items = list(page.get("items") or [])
            try:
                while page.get("next"):
                    page = self.api.next_page("album_tracks", page)
                    items += page["items"]
            except RequestFailed as exc:
                self._album_failed(chunk, album_id, f"album tracks: {exc.reason}")
                continue
            chunk.album_tracks[album_id] = items

    def _fetch_tracks(self, chunk: _Chunk) -> dict[str, list[dict]]:
        """Album id -> the track documents to store (full tracks when the app may batch)."""
        if self.mode == DEVELOPMENT:
            # One request per track would be ruinous: store the simplified tracks the album
            # pages gave, with the album reference (docs/contracts.md).
            return {
                album_id: [{**t, "album": {"id": album_id}} for t in items]
                for album_id, items in chunk.album_tracks.items()
            }
        album_of = {t["id"]: a for a, items in chunk.album_tracks.items() for t in items}
        full: dict[str, dict] = {}
        for batch in _chunks(list(album_of), self.settings.crawl_batch_tracks):
            try:
                answers = self.api.tracks(batch)
            except RequestFailed as exc:
                for album_id in {album_of[t] for t in batch}:
                    self._album_failed(chunk, album_id, f"tracks batch: {exc.reason}")
                continue
            for track_id, track in zip(batch, answers, strict=False):
                if track is not None:
                    full[track_id] = track
        result: dict[str, list[dict]] = {}
        for album_id, items in chunk.album_tracks.items():
            if album_id not in chunk.albums:
                continue
            # A track the batch did not return (null) keeps its simplified form.
            result[album_id] = [full.get(t["id"]) or {**t, "album": {"id": album_id}}
                                for t in items]
        return result

    def _fetch_features(
        self, chunk: _Chunk, tracks: dict[str, list[dict]]
    ) -> tuple[list[dict], dict[str, str]]:
        album_of = {t["id"]: a for a, items in tracks.items() for t in items}
        if self.features_reason is not None:
            return [], dict.fromkeys(album_of, self.features_reason)
        features: list[dict] = []
        unavailable: dict[str, str] = {}
        for batch in _chunks(list(album_of), self.settings.crawl_batch_features):
            if self.features_reason is not None:  # refused earlier in this chunk
                unavailable.update(dict.fromkeys(batch, self.features_reason))
                continue
            try:
                answers = self.api.audio_features(batch)
            except RequestFailed as exc:
                if exc.status == 403:
                    self.features_reason = f"audio features refused for this app ({exc.reason})"
                    unavailable.update(dict.fromkeys(batch, self.features_reason))
                    continue
                for album_id in {album_of[t] for t in batch}:
                    self._album_failed(chunk, album_id, f"audio features: {exc.reason}")
                    tracks.pop(album_id, None)
                continue
            for track_id, item in zip(batch, answers, strict=False):
                if item is None:
                    unavailable[track_id] = NULL_ANSWER
                else:
                    features.append(item)
        kept = {t for items in tracks.values() for t in (x["id"] for x in items)}
        return ([f for f in features if f["id"] in kept],
                {t: r for t, r in unavailable.items() if t in kept})

    def _backfill_features(self) -> None:
        """Ask again for the features of tracks stored while they were refused (a development-
        mode app): after a switch to an extended app the whole catalogue gets them, not only the
        tracks crawled from then on, so feature coverage (and the quality gate on it) recovers."""
        budget = self.settings.crawl_features_backfill_per_run
        if self.features_reason is not None or budget <= 0:
            return
        track_ids = self.state.tracks_refused_features(budget, NULL_ANSWER)
        for batch in _chunks(track_ids, self.settings.crawl_batch_features):
            try:
                answers = self.api.audio_features(batch)
            except RequestFailed as exc:
                if exc.status == 403:
                    self.features_reason = f"audio features refused for this app ({exc.reason})"
                    break
                continue  # already retried by the client; the tracks stay listed for next run
            found = [item for item in answers if item is not None]
            self.store.upsert("audio_features", found)
            self.state.clear_features_unavailable([item["id"] for item in found])
            self.state.record_features_unavailable(
                {t: NULL_ANSWER for t, item in zip(batch, answers, strict=False) if item is None}
            )
            self.summary.features_backfilled += len(found)
        self.summary.features_backfill_left = self.state.count_refused_features(NULL_ANSWER)

    def _fetch_artist_docs(self, chunk: _Chunk, tracks: dict[str, list[dict]]) -> list[dict]:
        """Full docs of the chunk's artists and of every artist credited on its data."""
        wanted = list(dict.fromkeys(
            [a for a in chunk.artists if a not in chunk.failed]
            + [a["id"] for album in chunk.albums.values() for a in album.get("artists", [])]
            + [a["id"] for items in tracks.values() for t in items for a in t.get("artists", [])]
        ))
        missing = [a for a in wanted if a not in self.fetched_artists]
        missing = [a for a in missing if a not in self.store.existing_ids("artists", missing)]
        return self._fetch_artists(missing)

    def _fetch_artists(self, artist_ids: list[str]) -> list[dict]:
        docs: list[dict] = []
        if self.mode == EXTENDED:
            for batch in _chunks(artist_ids, self.settings.crawl_batch_artists):
                try:
                    answers = self.api.artists(batch)
                except RequestFailed as exc:
                    for artist_id in batch:
                        self.state.record_failure("artist_doc", artist_id,
                                                  f"artists batch: {exc.reason}", None)
                    continue
                for artist_id, doc in zip(batch, answers, strict=False):
                    if doc is None:
                        self.state.record_failure("artist_doc", artist_id,
                                                  "artist not returned (null)", None)
                    else:
                        docs.append(doc)
        else:
            for artist_id in artist_ids:
                try:
                    docs.append(self.api.artist(artist_id))
                except RequestFailed as exc:
                    self.state.record_failure("artist_doc", artist_id, f"artist: {exc.reason}",
                                              None)
        self.fetched_artists.update(d["id"] for d in docs)
        return docs

    def _retry_artist_docs(self) -> None:
        """Artist documents that failed in earlier runs are fetched again first."""
        open_ids = self.state.open_failures("artist_doc")
        if open_ids:
            docs = self._fetch_artists(open_ids)
            self.store.upsert("artists", docs)
            self.state.resolve_failures("artist_doc", [d["id"] for d in docs])

    def _queue_discovered(self, chunk: _Chunk, tracks: dict[str, list[dict]]) -> None:
        if not self.settings.crawl_expand_discovered:
            return
        credited = [a["id"] for album in chunk.albums.values() for a in album.get("artists", [])]
        credited += [a["id"] for items in tracks.values() for t in items
                     for a in t.get("artists", [])]
        self.summary.artists_discovered += self.state.enqueue(credited, origin="discovered")

    def _album_failed(self, chunk: _Chunk, album_id: str, reason: str) -> None:
        owner = next(iter(sorted(chunk.owners.get(album_id, ()))), None)
        self.state.record_failure("album", album_id, reason, owner)
        chunk.fail_album(album_id, reason)

    def _album_not_found(self, chunk: _Chunk, album_id: str, reason: str) -> None:
        """The API says the album does not exist (GET /albums/{id} 404, null in GET /albums).

        Any other failure (5xx or network trouble after the retries, ...) fails its artists,
        who are retried on every run; a gone album would keep them failed forever. So once
        `crawl_album_give_up_after` runs (since it last worked) had this answer, the album is
        given up: its artists are done without it, later runs skip it like a complete one."""
        owners = sorted(chunk.owners.get(album_id, ()))
        if album_id not in self.not_found_albums:  # count each run once, whatever the chunks
            runs = self.state.record_failure("album", album_id, reason,
                                             owners[0] if owners else None, not_found=True)
            self.not_found_albums[album_id] = (reason, runs)
        runs, limit = self.not_found_albums[album_id][1], self.settings.crawl_album_give_up_after
        if limit and runs >= limit:
            self.state.give_up_album(album_id, reason, runs, owners)
            self.given_up_albums.add(album_id)
            self.summary.albums_given_up += 1
            chunk.drop_album(album_id)
            return
        left = f", {runs} of {limit} runs before it is given up" if limit else ""
        chunk.fail_album(album_id, f"album {album_id} not found ({reason}{left})")

    def _artist_failed(self, artist_id: str, reason: str, status: str) -> None:
        self.state.mark_artist_failed(artist_id, reason, status)
        self.state.record_failure("artist", artist_id, reason, artist_id)
        if status == NOT_FOUND:
            self.summary.artists_not_found += 1
        else:
            self.summary.artists_failed.append({"artist_id": artist_id, "reason": reason})

    def _settle_artists(self, chunk: _Chunk) -> None:
        for artist_id, reason in chunk.failed.items():
            if artist_id not in chunk.marked:
                self._artist_failed(artist_id, reason, FAILED)
        done = [a for a in chunk.artists if a not in chunk.failed]
        self.state.mark_artists(done, DONE)
        self.state.resolve_failures("artist", done)
        self.summary.artists_done += len(done)
