"""What a crawl run did, for the CLI summary, the Prefect flow and crawl_runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ingestion.crawl.store import ENTITY_COLLECTIONS, WriteCounts


@dataclass
class CrawlSummary:
    crawl_id: str
    source: str
    mode: str = "unknown"  # extended | development
    features_available: bool = False
    features_note: str = ""
    seeds_resolved: int = 0
    seeds_unresolved: list[dict] = field(default_factory=list)  # {entry, reason}
    artists_done: int = 0
    artists_failed: list[dict] = field(default_factory=list)  # {artist_id, reason}
    artists_not_found: int = 0
    artists_pending: int = 0  # still queued after this run
    artists_discovered: int = 0  # newly queued from tracks/albums
    albums_completed: int = 0
    albums_reset: int = 0  # given-up albums asked for again (--retry-given-up)
    albums_given_up: int = 0  # answered 404 / null in CRAWL_ALBUM_GIVE_UP_AFTER runs: skipped now
    features_unavailable: int = 0
    features_backfilled: int = 0  # stored tracks that got the features refused when crawled
    features_backfill_left: int = 0  # still without them (a later run asks again)
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    requests_total: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    malformed_responses: int = 0
    retries: int = 0
    waited_s: float = 0.0
    entities: dict[str, dict[str, int]] = field(
        default_factory=lambda: {name: asdict(WriteCounts()) for name in ENTITY_COLLECTIONS}
    )
    stopped_reason: str | None = None
    elapsed_s: float = 0.0

    @property
    def completed(self) -> bool:
        return self.stopped_reason is None

    @property
    def documents_written(self) -> int:
        return sum(c["new"] + c["changed"] for c in self.entities.values())

    def to_dict(self) -> dict:
        return asdict(self)
