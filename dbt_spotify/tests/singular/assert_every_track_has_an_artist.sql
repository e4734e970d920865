-- Every track in the star schema is credited to at least one artist (bridge_track_artist).
-- Returns the tracks without a credit.
select tracks.track_id, tracks.track_name
from {{ ref('dim_track') }} as tracks
left anti join {{ ref('bridge_track_artist') }} as credits on credits.track_id = tracks.track_id
