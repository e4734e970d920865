{#- Explicit schemas for from_json over the bronze `payload` column (shapes of the Spotify Web API,
    see docs). A field the API did not send (development mode drops popularity, followers and
    label; simplified tracks lack album details) parses as null. Fields we do not use are left
    out: from_json ignores them. -#}

{% macro spotify_image_type() -%}
array<struct<url: string, height: int, width: int>>
{%- endmacro %}

{% macro spotify_simplified_artist_type() -%}
array<struct<id: string, name: string>>
{%- endmacro %}

{% macro spotify_artist_schema() -%}
struct<
    id: string, name: string, genres: array<string>, popularity: int,
    followers: struct<total: bigint>, images: {{ spotify_image_type() }},
    external_urls: struct<spotify: string>, uri: string
>
{%- endmacro %}

{% macro spotify_album_schema() -%}
struct<
    id: string, name: string, album_type: string, album_group: string, total_tracks: int,
    release_date: string, release_date_precision: string,
    artists: {{ spotify_simplified_artist_type() }}, images: {{ spotify_image_type() }},
    label: string, popularity: int, genres: array<string>,
    external_ids: struct<upc: string, ean: string, isrc: string>,
    copyrights: array<struct<text: string, type: string>>, available_markets: array<string>,
    external_urls: struct<spotify: string>, uri: string
>
{%- endmacro %}

{% macro spotify_track_schema() -%}
struct<
    id: string, name: string, artists: {{ spotify_simplified_artist_type() }},
    album: struct<id: string, name: string>, disc_number: int, track_number: int,
    duration_ms: bigint, explicit: boolean, is_local: boolean, is_playable: boolean,
    popularity: int, preview_url: string, external_ids: struct<isrc: string>,
    available_markets: array<string>, external_urls: struct<spotify: string>, uri: string
>
{%- endmacro %}

{% macro spotify_audio_features_schema() -%}
struct<
    id: string, danceability: double, energy: double, key: int, loudness: double, mode: int,
    speechiness: double, acousticness: double, instrumentalness: double, liveness: double,
    valence: double, tempo: double, time_signature: int, duration_ms: bigint
>
{%- endmacro %}

{#- from_json with a schema literal; the schema text is whitespace-normalised so it stays one
    SQL string. -#}
{% macro parse_payload(column, schema_macro) -%}
from_json({{ column }}, '{{ schema_macro() | replace("\n", " ") }}')
{%- endmacro %}
