"""The emulator speaks the Web API as docs/spotify_api.md describes it: token flow, shapes, errors,
paging, trailing slashes, both app modes, rolling-window rate limiting and injected faults."""

from __future__ import annotations

import base64
import http.client
from urllib.parse import urlsplit

import pytest
import requests

from ingestion.emulator import EmulatorConfig, FaultConfig, running_emulator


def _token(handle) -> str:
    basic = base64.b64encode(f"{handle.client_id}:{handle.client_secret}".encode()).decode()
    answer = requests.post(handle.token_url, data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {basic}"}, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    return body["access_token"]


class Api:
    def __init__(self, handle) -> None:
        self.handle = handle
        self.headers = {"Authorization": f"Bearer {_token(handle)}"}

    def get(self, path: str, **params) -> requests.Response:
        url = path if path.startswith("http") else self.handle.api_url + path
        return requests.get(url, params=params, headers=self.headers, timeout=5)


@pytest.fixture
def api(emulator) -> Api:
    emulator.config.mode = "extended"
    return Api(emulator)


def _some_artist(handle, min_releases: int = 0):
    cat = handle.catalogue
    return next(a for a in cat.artists.values() if len(cat.releases[a.id]) > min_releases)


def test_token_endpoint_rejects_bad_grants_and_v1_needs_a_bearer_token(emulator):
    bad = requests.post(emulator.token_url, data={"grant_type": "password"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
    nobody = requests.post(emulator.token_url, data={"grant_type": "client_credentials"},
                           timeout=5)
    assert nobody.status_code == 400 and nobody.json()["error"] == "invalid_client"
    artist = _some_artist(emulator)
    missing = requests.get(f"{emulator.api_url}artists/{artist.id}", timeout=5)
    assert missing.status_code == 401
    assert missing.json() == {"error": {"status": 401, "message": "No token provided"}}
    wrong = requests.get(f"{emulator.api_url}artists/{artist.id}", timeout=5,
                         headers={"Authorization": "Bearer nope"})
    assert wrong.json()["error"]["message"] == "Invalid access token"


def test_ids_errors_and_trailing_slashes(api, emulator):
    artist = _some_artist(emulator)
    assert api.get(f"artists/{artist.id}").json()["name"] == artist.name
    assert api.get(f"artists/{artist.id}/").json()["id"] == artist.id  # spotipy's slash form
    assert api.get("artists/", ids=artist.id).json()["artists"][0]["id"] == artist.id
    malformed = api.get("artists/not-an-id")
    assert malformed.status_code == 400
    assert malformed.json() == {"error": {"status": 400, "message": "Invalid base62 id"}}
    unknown = api.get("albums/" + "0" * 22)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == 404
    batch = api.get("tracks/", ids=",".join(["0" * 22, next(iter(emulator.catalogue.tracks))]))
    assert batch.json()["tracks"][0] is None and batch.json()["tracks"][1]["id"]
    too_many = api.get("albums", ids=",".join(["0" * 22] * 21))
    assert too_many.status_code == 400
    assert too_many.json()["error"]["message"] == "Too many ids requested"
    nowhere = api.get("me/player")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["status"] == 404


def test_paging_follows_absolute_next_links_to_every_item(api, emulator):
    cat = emulator.catalogue
    artist = _some_artist(emulator, min_releases=5)
    page = api.get(f"artists/{artist.id}/albums", limit=2).json()
    assert page["next"].startswith(emulator.base_url + "/v1/artists/")
    seen = list(page["items"])
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += page["items"]
    assert [(a["id"], a["album_group"]) for a in seen] == cat.releases[artist.id]
    assert page["total"] == len(seen) and page["previous"] is not None

    long_album = next(a for a in cat.albums.values() if len(a.track_ids) > 50)
    full = api.get(f"albums/{long_album.id}").json()
    assert full["tracks"]["limit"] == 50 and full["tracks"]["next"]
    second = api.get(full["tracks"]["next"]).json()
    got = [t["id"] for t in full["tracks"]["items"] + second["items"]]
    assert got == long_album.track_ids and second["next"] is None


def test_objects_have_the_documented_shapes(api, emulator):
    cat = emulator.catalogue
    track = next(t for t in cat.tracks.values() if len(t.artist_ids) > 1 and t.features)
    full = api.get(f"tracks/{track.id}").json()
    assert [a["id"] for a in full["artists"]] == track.artist_ids
    assert {"album", "external_ids", "popularity", "disc_number", "duration_ms", "explicit",
            "is_local", "preview_url", "uri"} <= set(full)
    assert full["album"]["release_date_precision"] in {"year", "month", "day"}
    album = api.get(f"albums/{track.album_id}").json()
    assert {"label", "popularity", "copyrights", "external_ids", "genres", "tracks",
            "total_tracks", "album_type"} <= set(album)
    features = api.get("audio-features", ids=track.id).json()["audio_features"][0]
    assert features["type"] == "audio_features" and -1 <= features["key"] <= 11
    assert 3 <= features["time_signature"] <= 7
    artist = api.get(f"artists/{track.artist_ids[0]}").json()
    assert {"followers", "popularity", "genres", "images"} <= set(artist)
    no_features = next(t for t in cat.tracks.values() if t.features is None)
    assert api.get("audio-features", ids=no_features.id).json()["audio_features"] == [None]


def test_search_ranks_exact_names_first_ignoring_case_and_accents(api, emulator):
    hits = api.get("search", q="beyonce", type="artist", limit=5).json()["artists"]["items"]
    assert hits[0]["name"] == "Beyoncé"
    assert api.get("search", q="x", type="track").status_code == 400
    assert api.get("search", type="artist").json()["error"]["message"] == "No search query"


def test_development_mode_restrictions(api, emulator):
    emulator.config.mode = "development"
    try:
        cat = emulator.catalogue
        artist = _some_artist(emulator, min_releases=10)
        batch = api.get("artists/", ids=artist.id)
        assert batch.status_code == 403 and batch.json()["error"]["status"] == 403
        for kind in ("albums", "tracks"):
            assert api.get(f"{kind}/", ids=next(iter(getattr(cat, kind)))).status_code == 403
        features = api.get("audio-features/", ids=next(iter(cat.tracks)))
        assert features.status_code == 403 and features.json() == {"error": {"status": 403}}
        one = api.get(f"artists/{artist.id}").json()
        assert "popularity" not in one and "followers" not in one
        album = api.get(f"albums/{cat.releases[artist.id][0][0]}").json()
        assert "label" not in album and "popularity" not in album
        over = api.get(f"artists/{artist.id}/albums", limit=11)
        assert over.status_code == 400 and over.json()["error"]["message"] == "Invalid limit"
        default = api.get(f"artists/{artist.id}/albums").json()
        assert default["limit"] == 5 and len(default["items"]) == 5 and default["next"]
        assert "limit=5" in default["next"]
        assert api.get("search", q=artist.name, type="artist", limit=20).status_code == 400
        assert api.get("search", q="a", type="artist", limit=10, offset=1001).status_code == 400
    finally:
        emulator.config.mode = "extended"


def test_an_app_whose_owner_lacks_premium_gets_403_on_every_call(small_catalogue):
    config = EmulatorConfig(mode="development", owner_premium=False)
    with running_emulator(small_catalogue, config) as handle:
        api = Api(handle)  # the token is still handed out
        cat = handle.catalogue
        artist, album, track = (next(iter(t)) for t in (cat.artists, cat.albums, cat.tracks))
        paths = [f"artists/{artist}", f"artists/{artist}/albums", f"albums/{album}",
                 f"albums/{album}/tracks", f"tracks/{track}", f"audio-features/{track}",
                 "search?q=a&type=artist", f"artists?ids={artist}"]
        for path in paths:
            answer = api.get(path)
            assert answer.status_code == 403, path
            assert answer.json() == {"error": {"status": 403, "message": (
                "Active premium subscription required for the owner of the app. When the"
                " subscription status changes, it can take a few hours before requests are"
                " allowed again.")}}, path
    with pytest.raises(ValueError, match="development-mode apps only"):
        EmulatorConfig(mode="extended", owner_premium=False).validate()


def test_rolling_window_rate_limit_answers_429_with_retry_after(small_catalogue):
    config = EmulatorConfig(rate_limit=3, rate_window_s=30)
    with running_emulator(small_catalogue, config) as handle:
        api = Api(handle)
        artist = next(iter(handle.catalogue.artists))
        assert [api.get(f"artists/{artist}").status_code for _ in range(3)] == [200] * 3
        limited = api.get(f"artists/{artist}")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        assert limited.json()["error"]["status"] == 429
        assert handle.state.stats.rate_limited == 1


def test_an_exceeded_quota_answers_429_quota_exceeded_on_every_route(small_catalogue):
    config = EmulatorConfig(quota_requests=3)
    with running_emulator(small_catalogue, config) as handle:
        api = Api(handle)  # the token endpoint is not /v1: it uses no quota
        cat = handle.catalogue
        artist, album = next(iter(cat.artists)), next(iter(cat.albums))
        assert [api.get(f"artists/{artist}").status_code for _ in range(3)] == [200] * 3
        for path in (f"artists/{artist}", f"albums/{album}/tracks", "search?q=a&type=artist"):
            refused = api.get(path)
            assert refused.status_code == 429, path
            assert refused.headers["Retry-After"] == "3600"  # the emulator's default
            error = refused.json()["error"]
            assert isinstance(error.pop("message"), str)
            assert error == {"status": 429, "reason": "QUOTA_EXCEEDED"}
        stats = requests.get(f"{handle.base_url}/_emulator/stats", timeout=5).json()
        assert stats["quota_exceeded"] == 3 and stats["quota_used"] == 3
        assert stats["rate_limited"] == 0 and stats["by_status"]["429"] == 3

        handle.state.quota.reset()  # a new quota period, on the running emulator
        assert api.get(f"artists/{artist}").status_code == 200
        # The rolling window's 429 stays a plain one: no reason.
        handle.config.rate_limit = 1
        assert api.get(f"artists/{artist}").status_code == 200  # the window's one slot
        limited = api.get(f"artists/{artist}")
        assert limited.status_code == 429 and "reason" not in limited.json()["error"]
        assert handle.state.quota.used == 2  # the refused request used no quota
    with pytest.raises(ValueError, match="quota_requests and quota_retry_after_s must be >= 0"):
        EmulatorConfig(quota_requests=-1).validate()


def test_fault_injection_rates(small_catalogue):
    faults = FaultConfig(rate_5xx=0.5, rate_truncated=0.5, seed=1)
    with running_emulator(small_catalogue, EmulatorConfig(faults=faults)) as handle:
        api = Api(handle)
        artist = next(iter(handle.catalogue.artists))
        answers = [api.get(f"artists/{artist}") for _ in range(40)]
    server_errors = [a for a in answers if a.status_code >= 500]
    truncated = [a for a in answers if a.status_code == 200]
    assert server_errors and truncated and len(server_errors) + len(truncated) == 40
    assert all(a.json()["error"]["status"] == a.status_code for a in server_errors)
    for answer in truncated:
        with pytest.raises(ValueError):
            answer.json()


def _read_cut_answer(handle, path: str, headers: dict) -> tuple[int, int, bytes]:
    """GET `path` on a plain http.client connection: (status, announced Content-Length, the
    bytes that arrived before the connection dropped). Fails if the body arrives whole."""
    url = urlsplit(handle.api_url + path)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    try:
        conn.request("GET", url.path, headers=headers)
        answer = conn.getresponse()
        announced = int(answer.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead) as cut:
            answer.read()
        return answer.status, announced, cut.value.partial
    finally:
        conn.close()


def test_a_cut_connection_announces_the_whole_body_and_drops_halfway(small_catalogue):
    """`rate_cut` / `token_cuts`: a 200 with the Content-Length of the whole body, half of it,
    then the socket closes, so the client's read fails (`rate_truncated`, by contrast, sends a
    complete answer holding half the JSON)."""
    with running_emulator(small_catalogue, EmulatorConfig()) as handle:
        api = Api(handle)
        artist = next(iter(handle.catalogue.artists))
        whole = api.get(f"artists/{artist}").content
        faults = handle.config.faults
        faults.rate_cut = 1.0
        status, announced, partial = _read_cut_answer(handle, f"artists/{artist}", api.headers)
        assert status == 200 and announced == len(whole)
        assert partial == whole[: len(whole) // 2]
        with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
            api.get(f"artists/{artist}")  # what the crawler's requests session sees
        # The token request carries a form body: the emulator reads it whole before cutting,
        # else the connection is reset, not ended (10% of 300 cuts on the old code). 50 cuts.
        faults.rate_cut = 0.0
        for _ in range(50):
            faults.token_cuts = 1
            with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
                _token(handle)
        assert faults.token_cuts == 0
        assert Api(handle).get(f"artists/{artist}").content == whole  # the next token works
        assert handle.state.stats.injected["cut"] == 2
        assert handle.state.stats.injected["token_cut"] == 50
    with pytest.raises(ValueError, match="cut must add up to <= 1"):
        FaultConfig(rate_truncated=0.5, rate_cut=0.6).validate()
    with pytest.raises(ValueError, match="token_cuts must be >= 0"):
        FaultConfig(token_cuts=-1).validate()


def test_invalid_configuration_is_refused_with_the_reason(small_catalogue):
    with pytest.raises(ValueError, match="mode 'sandbox'"):
        EmulatorConfig(mode="sandbox").validate()
    with pytest.raises(ValueError, match="rate_429"):
        FaultConfig(rate_429=1.5).validate()


def test_albums_listed_but_not_served_answer_404_null_or_their_5xx(api, emulator):
    """`album_faults`: an album its artists still list that GET /albums/{id} answers 404 for
    (and GET /albums?ids= with null), as Spotify does for ids it does not know; or 5xx."""
    cat = emulator.catalogue
    artist = _some_artist(emulator, min_releases=1)
    gone, kept = (a for a, _group in cat.releases[artist.id][:2])
    emulator.config.album_faults = {gone: 404}
    try:
        listed = api.get(f"artists/{artist.id}/albums", limit=50).json()["items"]
        assert gone in [a["id"] for a in listed]
        for path in (f"albums/{gone}", f"albums/{gone}/tracks"):
            answer = api.get(path)
            assert answer.status_code == 404
            assert answer.json() == {"error": {"status": 404, "message": "Resource not found"}}
        batch = api.get("albums/", ids=f"{gone},{kept}").json()["albums"]
        assert batch[0] is None and batch[1]["id"] == kept
        assert emulator.state.stats.injected["album_404"] == 3
        emulator.config.album_faults = {gone: 503}
        assert api.get(f"albums/{gone}").status_code == 503
        whole = api.get("albums/", ids=f"{kept},{gone}")
        assert whole.status_code == 503 and whole.json()["error"]["status"] == 503
    finally:
        emulator.config.album_faults = {}
    assert api.get(f"albums/{gone}").json()["id"] == gone
    with pytest.raises(ValueError, match="use 404 or a 5xx"):
        EmulatorConfig(album_faults={gone: 403}).validate()


def test_clean_requests_delay_the_injected_faults(small_catalogue):
    faults = FaultConfig(rate_5xx=1.0, clean_requests=3)
    with running_emulator(small_catalogue, EmulatorConfig(faults=faults)) as handle:
        api = Api(handle)  # the token endpoint is not /v1: it does not count
        artist = next(iter(handle.catalogue.artists))
        statuses = [api.get(f"artists/{artist}").status_code for _ in range(5)]
    assert statuses[:3] == [200] * 3 and all(s >= 500 for s in statuses[3:])
    assert faults.clean_requests == 0
