{#- What the app searches and shows: one row per track, denormalised, with a search key. -#}
select
    recommender.*,
    albums.image_url as album_image_url,
    albums.release_date,
    albums.release_date_precision,
    tracks.preview_url,
    array_join(recommender.artist_names, ', ') as artist_names_joined,
    {{ strip_accents(
        "concat_ws(' — ', recommender.track_name, array_join(recommender.artist_names, ', '),"
        ~ " coalesce(recommender.album_name, ''))"
    ) }} as search_text
from {{ ref('mart_recommender_features') }} as recommender
inner join {{ ref('dim_track') }} as tracks on tracks.track_id = recommender.track_id
left join {{ ref('dim_album') }} as albums on albums.album_id = recommender.album_id
