"""The one settings module: every endpoint and path, from env vars or `.env`, with local defaults.

Every component reads its configuration from `get_settings()`; nothing else reads the
environment. Secrets are `SecretStr` so they never show up in reprs, logs or error messages.
Variables are documented in `.env.example`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = REPO_ROOT / ".env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- local folders --------------------------------------------------------------------
    data_dir: Path = Field(REPO_ROOT / "data", description="Runtime state: pids, logs, databases")
    lake_root: str = Field(
        "",
        description="Root of the Delta lake: a local path, file:// URL or hdfs://host:port/path."
        " Empty means file://<DATA_DIR>/lake.",
    )

    # --- MongoDB (FerretDB locally, MongoDB/Atlas elsewhere) ------------------------------------
    mongodb_uri: SecretStr = Field(
        SecretStr(""),
        description="Empty means the local FerretDB at FERRETDB_HOST:FERRETDB_PORT.",
    )
    mongodb_database: str = "spotify"
    ferretdb_host: str = "127.0.0.1"
    ferretdb_port: int = 27017
    ferretdb_bin: Path = Field(
        REPO_ROOT / ".tools" / "bin" / "ferretdb-local",
        description="FerretDB binary built by scripts/setup.sh",
    )

    # --- Spark Thrift Server ----------------------------------------------------------------------
    thrift_host: str = "127.0.0.1"
    thrift_port: int = 10000
    thrift_stall_timeout_s: float = Field(
        300.0,
        description="How long a Thrift session (dbt's, bronze registration, publish) waits for"
        " any one answer of the server before it calls the server stuck and stops. Statements"
        " run asynchronously and are polled, so a long one does not make one answer long; but"
        " the server holds each status"
        " poll up to 5 s (hive.server2.long.polling.timeout), hence at least 10"
        " (lakehouse/dbt_connections.py)",
        ge=10,
    )
    spark_master: str = Field(
        "local[2]", description="local[N], spark://host:port, yarn, k8s://..."
    )
    spark_driver_memory: str = "4g"
    spark_executor_memory: str = "2g"
    spark_shuffle_partitions: int = 4
    spark_delta_snapshot_partitions: int = Field(
        2,
        description="Partitions of a Delta snapshot's log replay (Delta's default, 50, is sized"
        " for clusters: on 2 cores it doubles the cost of every query; raise it on a cluster)",
    )
    spark_ui_port: int = Field(4040, description="0 disables the Spark UI")
    spark_driver_host: str = Field(
        "127.0.0.1", description="Address the driver binds to; a cluster needs a reachable one"
    )
    spark_jars_dir: Path = Field(REPO_ROOT / "spark_thrift" / "jars")
    java_home: Path | None = None
    thrift_start_timeout_s: int = 180

    # --- Spotify ----------------------------------------------------------------------------
    spotify_client_id: SecretStr | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_api_url: str = "https://api.spotify.com/v1/"
    spotify_token_url: str = "https://accounts.spotify.com/api/token"  # noqa: S105 (a URL)
    emulator_host: str = "127.0.0.1"
    emulator_port: int = 8765
    emulator_artists: int = Field(200, description="Size of the generated emulator catalogue")
    emulator_seed: int = 42
    emulator_mode: str = Field("extended", description="extended | development")
    emulator_rate_limit: int = Field(0, description="Requests per rolling window; 0 = unlimited")
    emulator_rate_window_s: float = 30.0

    # --- crawl (ingestion/crawl) -------------------------------------------------------------
    crawl_seed_file: Path = Field(
        REPO_ROOT / "ingestion" / "seeds" / "default_artists.txt",
        description="Artist names or Spotify ids, one a line",
    )
    crawl_artists_per_run: int = Field(50, description="Pending artists taken per run (+ retries)")
    crawl_expand_discovered: bool = Field(
        True, description="Queue artists met on tracks/albums for later runs"
    )
    crawl_chunk_artists: int = Field(
        10, description="Artists whose releases are fetched together (fills the batch calls)"
    )
    crawl_mode: str = Field("auto", description="auto (detect) | extended | development")
    crawl_batch_artists: int = 50
    crawl_batch_albums: int = 20
    crawl_batch_tracks: int = 50
    crawl_batch_features: int = 100
    crawl_features_backfill_per_run: int = Field(
        10_000,
        ge=0,
        description="Tracks stored without audio features while they were refused (development"
        " mode) whose features a run fetches once they are available; 0 = never",
    )
    crawl_page_limit: int = Field(50, description="Page size; capped at 10 in development mode")
    crawl_max_total_wait_s: float = Field(
        600.0, description="Cap on all waiting (Retry-After + backoff) in one run"
    )
    crawl_max_retries: int = Field(5, description="Retries of one request on 5xx/bad responses")
    crawl_min_retry_after_s: float = Field(
        1.0, gt=0, description="Least wait on a 429 (Retry-After: 0 must still use up the budget)"
    )
    crawl_backoff_base_s: float = 0.5
    crawl_backoff_max_s: float = 30.0
    crawl_request_timeout_s: float = 15.0
    crawl_name_match_min_score: float = Field(
        90.0, description="Fuzzy score (0-100) a search hit needs when no name matches exactly"
    )
    crawl_album_give_up_after: int = Field(
        3, ge=0, description="Runs in which an album must answer 404 / null (gone) before it is"
        " given up and no longer fails its artists; 0 = never give up"
    )

    # --- bronze export (ingestion/bronze_export.py) -------------------------------------------
    bronze_overlap_s: int = Field(
        120,
        description="Re-read this many seconds before the export watermark: covers documents"
        " whose _ingested_at was stamped before a concurrent export read past it (and clock skew"
        " between crawler and exporter hosts). Re-read rows are deduplicated.",
    )
    bronze_change_capture: Literal["auto", "scan", "journal"] = Field(
        "auto",
        description="How incremental exports find changed documents: `scan` = range query on"
        " _ingested_at (uses the index on MongoDB), `journal` = the crawler's change journal"
        " (ingestion/change_journal.py), `auto` = scan on MongoDB, journal on FerretDB",
    )
    bronze_chunk_rows: int = Field(
        50_000, description="Rows per Delta commit while exporting (bounds memory)"
    )

    # --- orchestration (Prefect) ---------------------------------------------------------------
    crawl_interval_minutes: int = Field(60, description="Schedule of the crawl deployment")
    pipeline_artists_per_run: int = Field(
        25, description="Artists the pipeline flow crawls per run (main job, `lakehouse pipeline`)"
    )

    # --- dbt ----------------------------------------------------------------------------------
    dbt_schema: str = Field(
        "spotify", description="dbt's target schema (profile `schema`); the layers use their own"
        " schemas as they are (DBT_BRONZE/SILVER/GOLD_SCHEMA, macros/generate_schema_name.sql)"
    )
    dbt_threads: int = Field(
        4,
        description="dbt threads. Over Thrift a node mostly waits (session, planning, polls), so"
        " 4 threads finish sooner than 2 even on 2 cores (docs/dbt.md)",
    )
    dbt_bronze_schema: str = Field("bronze", description="Schema of the bronze source tables")
    dbt_silver_schema: str = Field("silver", description="Schema of staging + intermediate")
    dbt_gold_schema: str = Field(
        "gold", description="Schema of the marts; write-audit-publish builds into gold_audit"
    )
    dbt_poll_interval_s: float = Field(
        0.05,
        description="How often dbt polls a running statement on the Thrift Server (one cheap"
        " RPC; most statements take 0.2-1 s, so a coarse poll adds up over ~140 nodes)",
    )

    # --- quality gate (quality/) --------------------------------------------------------------
    quality_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Thresholds of quality/expectations.yml overridden for this environment, as"
        ' JSON: {"min_feature_coverage": 0.3}',
    )
    quality_keep_runs: int = Field(
        100,
        ge=1,
        description="Gate runs whose validation results and data docs pages are kept; older ones"
        " are deleted after each run (the docs would otherwise grow by ~0.45 MB and ~0.09 s of"
        " rendering a run)",
    )

    # --- gold marts and the recommender (ml/) ------------------------------------------------
    gold_schema: str = Field(
        "gold",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Schema of the published gold marts: publish writes LAKE_ROOT/<schema>/<mart>"
        " and registers <schema>.<mart>; app/ and ml/ read it (not gold_audit)",
    )
    lake_vacuum_retain_hours: int = Field(
        168,
        ge=0,
        description="Delta files replaced or removed longer ago than this are deleted by the"
        " pipeline's vacuum stage and `lakehouse vacuum`: the window of time travel to earlier"
        " versions (Delta's default, 7 days). Below the longest read of an older version"
        " (a Dremio query, the app's pinned version) such a read can fail",
    )
    ml_gold_backend: str = Field(
        "delta",
        pattern=r"^(delta|thrift|flight)$",
        description="How ml/ reads gold: delta (by path, no JVM), thrift (Spark Thrift Server)"
        " or flight (Dremio Arrow Flight)",
    )
    dremio_flight_host: str = "127.0.0.1"
    dremio_flight_port: int = 32010
    dremio_user: str = ""
    dremio_password: SecretStr = SecretStr("")
    dremio_gold_path: str = Field(
        "lake.gold", description="Dotted Dremio path of the folder holding the gold marts"
    )
    dremio_flight_timeout_s: float = Field(
        300.0,
        description="Deadline of each Arrow Flight call to Dremio (sign-in, planning, the whole"
        " read of a mart): a Dremio that accepts connections but does not answer fails the read"
        " instead of hanging it. Raise it for marts that take longer to stream",
        gt=0,
    )

    # --- Streamlit app (app/) -----------------------------------------------------------------
    app_host: str = Field("127.0.0.1", description="Address `lakehouse app` binds to")
    app_port: int = Field(8501, description="Port of `lakehouse app`")
    app_refresh_s: float = Field(
        5.0, description="How often the app checks gold for a new Delta version (seconds)"
    )

    @field_validator("data_dir", "spark_jars_dir", "ferretdb_bin", "crawl_seed_file", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else (REPO_ROOT / value).resolve()

    # ---------------------------------------------------------------------------------------------
    @property
    def lake_uri(self) -> str:
        """LAKE_ROOT as a URL (file:// or hdfs://), never with a trailing slash.

        A local path is not percent-encoded: Spark and delta-rs take a location's characters
        literally, so `file:///a/My%20Lake` would be a folder named `My%20Lake`, not `My Lake`.
        """
        root = self.lake_root.strip() or str(self.data_dir / "lake")
        if "://" not in root:
            path = Path(root)
            root = "file://" + str((path if path.is_absolute() else REPO_ROOT / path).resolve())
        return root.rstrip("/")

    def lake_path(self, *parts: str) -> str:
        """A location under LAKE_ROOT, as deltalake and Spark both accept it."""
        base = self.lake_uri
        if base.startswith("file://"):
            base = base[len("file://") :]
        return "/".join([base, *parts])

    @property
    def mongodb_url(self) -> str:
        """The MongoDB connection string (contains credentials for Atlas: never print it)."""
        uri = self.mongodb_uri.get_secret_value().strip()
        return uri or f"mongodb://{self.ferretdb_host}:{self.ferretdb_port}/"

    @property
    def mongodb_is_local(self) -> bool:
        return not self.mongodb_uri.get_secret_value().strip()

    @property
    def mongodb_display(self) -> str:
        """MONGODB_URI with any user:password removed, safe for logs."""
        return redact_url(self.mongodb_url)

    @property
    def has_spotify_credentials(self) -> bool:
        return bool(
            self.spotify_client_id
            and self.spotify_client_id.get_secret_value()
            and self.spotify_client_secret
            and self.spotify_client_secret.get_secret_value()
        )

    @property
    def run_dir(self) -> Path:
        """pid files of the services this project started."""
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def service_log(self, name: str) -> Path:
        """Where the service `name` ("ferretdb", "thrift") started by `services up` logs."""
        return self.log_dir / f"{name}.log"

    @property
    def thrift_is_local(self) -> bool:
        """Whether THRIFT_HOST names this machine, where `services up` runs the Thrift Server
        itself. Any other host is a server run elsewhere (the compose file's spark-thrift
        container, a cluster's Thrift Server): only checked, never started or stopped."""
        return self.thrift_host.strip().lower() in LOCAL_THRIFT_HOSTS


LOCAL_THRIFT_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})  # noqa: S104


def redact_url(url: str) -> str:
    """The URL without what can hold a secret, so it can be shown: userinfo and query string.

    Conservative on purpose. Everything up to the last '@' goes, because an unescaped '#', '/'
    or '?' in a password (pymongo accepts some) makes URL parsers end the host early and keep
    the password. The query goes whole: it can carry AWS session tokens
    (`authMechanismProperties`) or `tlsCertificateKeyFilePassword`.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "***"  # not a URL: the value itself may be the secret
    userinfo = "***@" if "@" in rest else ""
    address, query, _ = rest.rsplit("@", 1)[-1].partition("?")
    return f"{scheme}://{userinfo}{address}{'?***' if query else ''}"


# Telemetry of dbt and Prefect tries to reach hosts that are unreachable offline (Prefect then
# hits `database is locked`); the project never sends usage data. Prefect's temporary server
# (flows run without PREFECT_API_URL) migrates its database on first start, which takes longer
# than its 20 s default on a busy 2-core machine.
OFFLINE_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def apply_offline_env() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call `get_settings.cache_clear()` after changing env)."""
    return Settings()
