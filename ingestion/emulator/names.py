"""Deterministic, varied names: latin, accented, Cyrillic, Japanese and Korean artists; album and
track titles. Real-world names come first so the shipped seed list resolves on the emulator."""

from __future__ import annotations

import random

# The project's default seed list (ingestion/seeds/default_artists.txt) names these artists; the
# generated catalogue uses them for its first artists so `lakehouse crawl` works out of the box.
WELL_KNOWN_NAMES: tuple[str, ...] = (
    "Daft Punk",
    "Beyoncé",
    "Björk",
    "Sigur Rós",
    "Queen",
    "Taylor Swift",
    "Bad Bunny",
    "BTS",
    "Rosalía",
    "Stromae",
    "Miles Davis",
    "Radiohead",
    "Kendrick Lamar",
    "Édith Piaf",
    "Buena Vista Social Club",
    "Sade",
    "Kraftwerk",
    "Fela Kuti",
    "Ryuichi Sakamoto",
    "Dolly Parton",
)

_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "sa", "to", "ne", "ri", "da", "mo", "lu", "zen",
              "bri", "tha", "el", "or", "an", "is", "qu", "ve", "xo", "ly", "na")
_ACCENTED = ("é", "á", "ö", "ü", "ñ", "ç", "ø", "å", "í", "ó")
_WORDS = ("Midnight", "Echo", "Velvet", "Neon", "Silver", "Golden", "Paper", "Glass", "Wild",
          "Electric", "Quiet", "Broken", "Lunar", "Ocean", "Crimson", "Hollow", "Static", "Sun",
          "Wolves", "Riders", "Machines", "Gardens", "Hearts", "Lights", "Tides", "Ghosts")
_CYRILLIC = ("Алиса", "Кино", "Земфира", "Сплин", "Мумий", "Звери", "Ночь", "Ветер")
_KANA = ("さくら", "ひかり", "そら", "ゆめ", "ほし", "かぜ", "つき", "あおい")
_HANGUL = ("하늘", "별빛", "바람", "소녀", "달빛", "시간", "여름", "노을")
_TITLE_WORDS = ("Love", "Night", "Fire", "Dream", "Home", "Rain", "Forever", "Alone", "Dance",
                "City", "Heart", "Summer", "Blue", "Road", "Stars", "Gold", "Shadow", "River",
                "Corazón", "Été", "Nuit", "Sehnsucht", "Träume", "Canción", "Mañana", "Für Dich")


def _word(rng: random.Random, syllables: int) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(syllables))
    if rng.random() < 0.25:
        pos = rng.randrange(len(word))
        word = word[:pos] + rng.choice(_ACCENTED) + word[pos + 1 :]
    return word.capitalize()


def artist_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.40:
        return f"{_word(rng, rng.randint(2, 3))} {_word(rng, rng.randint(2, 4))}"
    if roll < 0.60:
        return f"The {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
    if roll < 0.72:
        return _word(rng, rng.randint(2, 4))
    if roll < 0.80:
        return f"{rng.choice(_CYRILLIC)} {rng.choice(_CYRILLIC)}"
    if roll < 0.88:
        return rng.choice(_KANA) + rng.choice(_KANA)
    if roll < 0.94:
        return rng.choice(_HANGUL) + " " + rng.choice(_HANGUL)
    return f"DJ {_word(rng, 2)}"


def title(rng: random.Random, min_words: int = 1, max_words: int = 4) -> str:
    words = [rng.choice(_TITLE_WORDS) for _ in range(rng.randint(min_words, max_words))]
    text = " ".join(words)
    if rng.random() < 0.08:
        text += " (Remastered)"
    elif rng.random() < 0.05:
        text += " - Live"
    return text
