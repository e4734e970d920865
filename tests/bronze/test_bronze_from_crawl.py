"""The real contract between the crawler and the export: crawl the emulator, then export."""

from __future__ import annotations

import json
from collections import Counter

from pymongo.database import Database

from ingestion.bronze_export import export_all
from ingestion.bronze_tables import ENTITIES, open_table
from ingestion.crawl import emulator_endpoint, run_crawl
from ingestion.emulator import EmulatorConfig, FaultConfig, generate_catalogue, running_emulator
from lakehouse.settings import Settings


def test_what_the_crawler_stores_lands_in_bronze_unchanged(
    bronze_settings: Settings, mongo_db: Database
) -> None:
    catalogue = generate_catalogue(3, seed=11)
    seeds = [artist.name for artist in catalogue.artists.values()]
    settings = bronze_settings.model_copy(
        update={"crawl_backoff_base_s": 0.001, "crawl_backoff_max_s": 0.01}
    )
    config = EmulatorConfig(faults=FaultConfig(retry_after_s=0))
    with running_emulator(catalogue, config) as emulator:
        run_crawl(settings, endpoint=emulator_endpoint(emulator), db=mongo_db, seeds=seeds)

    summary = export_all(settings)

    assert summary.rejected == 0
    for entity in ENTITIES:
        in_mongo = {d["_id"]: d for d in mongo_db[entity].find()}
        assert in_mongo, f"the crawl stored no {entity}"
        rows = open_table(settings, entity).to_pyarrow_table().to_pylist()
        assert Counter(r["id"] for r in rows) == Counter(list(in_mongo))
        for row in rows:
            doc = in_mongo[row["id"]]
            # The export keeps the crawler's hash, and it is the hash of the exported payload.
            assert row["content_hash"] == doc["_content_hash"]
            payload = {k: v for k, v in doc.items() if not k.startswith("_")}
            assert json.loads(row["payload"]) == payload
            assert (row["source"], row["crawl_id"]) == (doc["_source"], doc["_crawl_id"])
    # A second export right after finds nothing new to write.
    assert export_all(settings).exported == 0
