{{ config(unique_key='track_id') }}
{%- set watermark = merge_watermark() if is_incremental() else none %}

{#- The CSV lists a track once per genre it is filed under: one row per track here, with all
    its CSV genres collected. -#}
with bronze as (
    {% if bronze_table_exists('imported_audio_features') %}
    select * from {{ source('spotify', 'imported_audio_features') }}
    {% else %}
    select
        cast(null as string) as track_id, cast(null as string) as track_name,
        cast(null as string) as artists, cast(null as string) as album_name,
        cast(null as string) as track_genre, cast(null as int) as popularity,
        cast(null as bigint) as duration_ms, cast(null as boolean) as explicit,
        cast(null as double) as danceability, cast(null as double) as energy,
        cast(null as int) as key, cast(null as double) as loudness, cast(null as int) as mode,
        cast(null as double) as speechiness, cast(null as double) as acousticness,
        cast(null as double) as instrumentalness, cast(null as double) as liveness,
        cast(null as double) as valence, cast(null as double) as tempo,
        cast(null as int) as time_signature, cast(null as string) as source_file,
        cast(null as bigint) as source_row, cast(null as string) as content_hash,
        cast(null as string) as batch_id, cast(null as timestamp) as imported_at
    limit 0
    {% endif %}
),

latest as (
    {{ latest_bronze_version('bronze', id_column='track_id', loaded_at='imported_at',
                             order_by='imported_at desc, source_file desc, source_row asc',
                             watermark=watermark) }}
),

genres as (
    -- The genres of the latest import only, like every other column: a genre a newer CSV no
    -- longer lists is dropped.
    select track_id, array_sort(collect_set(track_genre)) as csv_genres
    from latest
    where imported_at = _last_loaded_at
    group by track_id
)

select
    latest.track_id,
    latest.track_name,
    filter(transform(split(latest.artists, ';'), name -> trim(name)), name -> name != '')
        as artist_names,
    latest.album_name,
    genres.csv_genres,
    latest.popularity,
    latest.duration_ms,
    latest.explicit,
    latest.danceability,
    latest.energy,
    latest.key,
    latest.loudness,
    latest.mode,
    latest.speechiness,
    latest.acousticness,
    latest.instrumentalness,
    latest.liveness,
    latest.valence,
    latest.tempo,
    latest.time_signature,
    latest.source_file as _source_file,
    latest.source_row as _source_row,
    latest.content_hash as _content_hash,
    latest.batch_id as _batch_id,
    latest.imported_at as _imported_at,
    latest._last_loaded_at
from latest
inner join genres on genres.track_id = latest.track_id
{#- The row is a function of the winning CSV row (its hash covers every value), where it came
    from, the import's genres for the track and `_last_loaded_at`: a track equal in all of them
    was merged by an earlier run (latest_bronze_version explains why it is skipped). -#}
{{ skip_rows_already_merged(watermark, [
    ('track_id', 'latest.track_id'),
    ('_content_hash', 'latest.content_hash'),
    ('_source_file', 'latest.source_file'),
    ('_source_row', 'latest.source_row'),
    ('_batch_id', 'latest.batch_id'),
    ('_imported_at', 'latest.imported_at'),
    ('_last_loaded_at', 'latest._last_loaded_at'),
    ('csv_genres', 'genres.csv_genres'),
]) }}
where latest._version_rank = 1
