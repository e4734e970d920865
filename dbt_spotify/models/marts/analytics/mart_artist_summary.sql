{#- One row per artist: catalogue counts (albums and tracks per artist) and rankings by popularity
    and followers (top artists). Ranks are null when the metric is (development mode). -#}
with albums as (
    select artist_id, count(distinct album_id) as album_count,
           count(distinct case when is_primary then album_id end) as primary_album_count
    from {{ ref('bridge_album_artist') }}
    group by artist_id
),

tracks as (
    select artist_id, count(distinct track_id) as track_count
    from {{ ref('bridge_track_artist') }}
    group by artist_id
)

select
    artists.artist_id,
    artists.artist_name,
    artists.is_crawled,
    artists.genres,
    artists.popularity,
    artists.followers,
    coalesce(albums.album_count, 0) as album_count,
    coalesce(albums.primary_album_count, 0) as primary_album_count,
    coalesce(tracks.track_count, 0) as track_count,
    case when artists.popularity is not null
        then rank() over (order by artists.popularity desc nulls last, artists.artist_id)
    end as popularity_rank,
    case when artists.followers is not null
        then rank() over (order by artists.followers desc nulls last, artists.artist_id)
    end as followers_rank
from {{ ref('dim_artist') }} as artists
left join albums on albums.artist_id = artists.artist_id
left join tracks on tracks.artist_id = artists.artist_id
