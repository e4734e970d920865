select artist_id, genre
from {{ ref('int_artist_genres') }}
where genre is not null and genre != ''
