"""Connections to MongoDB: the local FerretDB by default, any MongoDB / Atlas by MONGODB_URI."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

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
    """Whether the server answers a ping, for a caller that wants only yes or no (a script's
    readiness check). False, not an exception, for a malformed URI or a refused login; the
    project's own commands use `answers` or `connection_problem`, which say why."""
    try:
        return answers(settings, timeout_ms)
    except ServiceError:
        return False


def answers(settings: Settings | None = None, timeout_ms: int = 1000) -> bool:
    """Whether the server answers a ping: False when it cannot be reached.

    Raises ServiceError, with the fix, when the settings cannot work: a malformed URI, or a
    server that answers but refuses the login in MONGODB_URI (waiting would not help).
    """
    settings = settings or get_settings()
    try:
        with client(settings, timeout_ms=timeout_ms) as mongo:
            return mongo.admin.command("ping").get("ok") == 1.0
    except PyMongoError as exc:
        refused = access_refused_message(settings, exc)
        if refused:
            raise ServiceError(refused) from None
        return False


def probe_timeout_ms(settings: Settings) -> int:
    """How long one health probe waits. Polling a local start wants a short timeout; one check
    of a server across a network (an Atlas TLS handshake after an SRV lookup) can take longer
    than a second."""
    return 1000 if settings.mongodb_is_local else 5000


def connection_problem(settings: Settings | None = None) -> str | None:
    """None when the server answers a ping, else what is wrong and the fix (for a command that
    is about to use MongoDB, such as `lakehouse crawl`)."""
    settings = settings or get_settings()
    try:
        if answers(settings, probe_timeout_ms(settings)):
            return None
    except ServiceError as exc:
        return str(exc)
    return f"MongoDB is not reachable at {settings.mongodb_display}: {unreachable_fix(settings)}."


def unreachable_fix(settings: Settings) -> str:
    if settings.mongodb_is_local:
        return "start it (`lakehouse services up --only ferretdb`)"
    return (
        "check that the server in MONGODB_URI is up and reachable from here (for Atlas: the"
        " project's IP access list)"
    )


# What a server answers when the login or the user's roles are the problem, not the server.
# MongoDB: 18 AuthenticationFailed and 13 Unauthorized. Atlas answers both as 8000 AtlasError,
# told apart by the message: "bad auth : Authentication failed." and "user is not allowed to do
# action [insert] on [spotify.artists]".
_AUTHENTICATION_FAILED = 18
_UNAUTHORIZED = 13
_ATLAS_ERROR = 8000


def access_refused_message(settings: Settings, exc: BaseException) -> str | None:
    """What to fix when `exc` is the server refusing the login or an action, else None.

    Quotes the server's own reason (it names no password), never the connection string.
    """
    refusal = _refusal(exc)
    if refusal is None:
        return None
    kind, cause = refusal
    where = f"MongoDB at {settings.mongodb_display}"
    if kind == "login":
        return (
            f"{where} refused the login in MONGODB_URI ({cause})."
            " Check the user name and password (percent-encoded in the URI), and authSource:"
            " the database that holds the user, by default the one in the URI's path, else"
            " admin (Atlas keeps its database users in admin)."
        )
    if kind == "no login":
        return (
            f"{where} requires a login, and MONGODB_URI gives none ({cause}). Put the user name"
            " and password in it: mongodb://<user>:<password>@<host>/ (both percent-encoded)."
        )
    return (
        f"{where} refused an action to the user in MONGODB_URI ({cause}). Give that user the"
        f" readWrite role on the database {settings.mongodb_database!r} (MONGODB_DATABASE), as"
        " terraform/ does for Atlas."
    )


def is_access_refused(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is the server refusing the login or an
    action: asking again gets the same answer (a task's retries would only wait)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _refusal(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _refusal(exc: BaseException) -> tuple[str, str] | None:
    """("login" | "no login" | "action", the server's code and reason), or None."""
    if not isinstance(exc, OperationFailure):
        return None
    details = exc.details or {}
    reason = next(iter(str(details.get("errmsg") or exc).splitlines()), "")[:200]
    cause = f"{details.get('codeName') or 'code ' + str(exc.code)}: {reason}"
    atlas = exc.code == _ATLAS_ERROR
    if exc.code == _AUTHENTICATION_FAILED or (atlas and "bad auth" in reason):
        return "login", cause
    if exc.code == _UNAUTHORIZED and "requires authentication" in reason.lower():
        # `ping` needs no login, so a server with users passes the health check without one.
        return "no login", cause
    if exc.code == _UNAUTHORIZED or (atlas and "not allowed to do action" in reason):
        return "action", cause
    return None
