{#- How big the catalogue is: one row per entity (the dashboard's headline numbers). -#}
select 'artists' as entity, count(*) as row_count
from {{ ref('dim_artist') }} where is_crawled
union all
select 'credited_artists_not_crawled', count(*) from {{ ref('dim_artist') }} where not is_crawled
union all
select 'artists_without_genres', count(*)
from {{ ref('dim_artist') }} where is_crawled and genre_count = 0
union all
select 'albums', count(*) from {{ ref('dim_album') }}
union all
select 'tracks', count(*) from {{ ref('dim_track') }}
union all
select 'tracks_with_audio_features', count(*) from {{ ref('fct_track_features') }}
union all
select 'tracks_with_api_features', count(*)
from {{ ref('fct_track_features') }} where features_source = 'api'
union all
select 'tracks_with_imported_features', count(*)
from {{ ref('fct_track_features') }} where features_source = 'imported'
union all
select 'genres', count(distinct genre) from {{ ref('bridge_artist_genre') }}
union all
select 'labels', count(distinct label) from {{ ref('dim_album') }}
