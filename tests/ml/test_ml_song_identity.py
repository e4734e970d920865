"""Which rows are versions of the same song."""

from __future__ import annotations

import pyarrow as pa

from ml.song_identity import normalise_song_name, song_keys


def test_version_labels_accents_and_punctuation_are_ignored():
    names = pa.array([
        "Héllo - Remastered 2011", "HELLO (Live)", "Hello [feat. Someone]", "Hello!",
        "Hello feat. Someone", "Hello, Goodbye", None,
    ])
    assert normalise_song_name(names).to_pylist() == [
        "hello", "hello", "hello", "hello", "hello", "hello goodbye", "",
    ]


def test_same_song_needs_same_name_and_artists():
    table = pa.table({
        "track_id": ["a", "b", "c", "d", "e", "f"],
        "track_name": ["Yesterday", "Yesterday - 2009 Remaster", "Yesterday", "Yesterday",
                       "", ""],
        "artist_names": [["The Beatles"], ["the beatles"], ["Ray Charles"], None, ["X"], ["X"]],
    })
    keys = song_keys(table).tolist()
    assert keys[0] == keys[1]  # remaster, artist case differs
    assert len({keys[0], keys[2], keys[3]}) == 3  # other artist / no artist: other songs
    assert keys[4] != keys[5]  # no usable name: only the same song as itself
