"""Connections to MongoDB: the local FerretDB by default, any MongoDB / Atlas by MONGODB_URI."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, PyMongoError

from lakehouse.settings import Settings, get_settings
from lakehouse.supervisor import ServiceError

# What pymongo raises for a connection string it cannot parse: a bad port is a plain ValueError,
# an unescaped '@' or '/' in the password an InvalidURI (a subclass of ConfigurationError).
_MALFORMED_URI_ERRORS = (ConfigurationError, ValueError)


def client(settings: Settings | None = None, timeout_ms: int = 5000) -> MongoClient:
    """A client for the configured server; it connects on its first command.

    Raises ServiceError naming the setting when the connection string cannot be parsed.
    """
    settings = settings or get_settings()
    try:
        # connect=False: building the client parses and checks the whole connection string but
        # makes no network call. Connecting here would also resolve a mongodb+srv:// name, and
        # a DNS failure (a ConfigurationError too) would pass for a malformed URI.
        return MongoClient(
            settings.mongodb_url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            appname="spotify-lakehouse",
            tz_aware=True,
            connect=False,
        )
    except _MALFORMED_URI_ERRORS:
        # `from None`: pymongo's message and a chained traceback can quote the password
        # (`Bad database name "ss@host/"` for an unescaped '/' in it).
        raise ServiceError(malformed_uri_message(settings)) from None


def malformed_uri_message(settings: Settings) -> str:
    """What is wrong and how to fix it, without the connection string or pymongo's message."""
    if settings.mongodb_is_local:
        return (
            f"FERRETDB_HOST/FERRETDB_PORT do not make a valid MongoDB address"
            f" ({settings.mongodb_display}): set FERRETDB_HOST to a host name or IP address."
        )
    return (
        f"MONGODB_URI is not a valid MongoDB connection string ({settings.mongodb_display};"
        " pymongo's message is withheld, it can quote the password). Check the scheme"
        " (mongodb:// or mongodb+srv://) and the port (a number; none with mongodb+srv://), and"
        " percent-encode @ : / ? # % in the user name and password: python3 -c 'import"
        " urllib.parse, getpass; print(urllib.parse.quote_plus(getpass.getpass()))'."
    )


def check_uri(settings: Settings | None = None) -> None:
    """Raise ServiceError if the connection string cannot be parsed; no network call."""
    client(settings).close()


def database(settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    return client(settings)[settings.mongodb_database]


def is_healthy(settings: Settings | None = None, timeout_ms: int = 1000) -> bool:
    """Whether the server answers a ping. False, not an exception, for a malformed URI (no
    server can answer it), so a health check never ends in a traceback; `check_uri` says why."""
    try:
        with client(settings, timeout_ms=timeout_ms) as mongo:
            return mongo.admin.command("ping").get("ok") == 1.0
    except (PyMongoError, ServiceError):
        return False
