"""Connections to MongoDB: the local FerretDB by default, any MongoDB / Atlas by MONGODB_URI."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from lakehouse.settings import Settings, get_settings


def client(settings: Settings | None = None, timeout_ms: int = 5000) -> MongoClient:
    settings = settings or get_settings()
    return MongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        appname="spotify-lakehouse",
        tz_aware=True,
    )


def database(settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    return client(settings)[settings.mongodb_database]


def is_healthy(settings: Settings | None = None, timeout_ms: int = 1000) -> bool:
    try:
        with client(settings, timeout_ms=timeout_ms) as mongo:
            return mongo.admin.command("ping").get("ok") == 1.0
    except PyMongoError:
        return False
