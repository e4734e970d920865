-- In the recommender input, artist_ids and artist_names are parallel arrays in credit order:
-- same length, at least one artist, and the first id is the primary artist.
select track_id, artist_ids, artist_names, primary_artist_id
from {{ ref('mart_recommender_features') }}
where size(artist_ids) != size(artist_names)
   or size(artist_ids) = 0
   or not (get(artist_ids, 0) <=> primary_artist_id)
