select
    track_id,
    artist_id,
    artist_position,
    artist_position = 1 as is_primary
from {{ ref('int_track_artists') }}
where artist_id is not null
