"""Deterministic, varied English prose for the benchmarks (generated, so nothing is copied).

Sentences are assembled from small phrase tables with a seeded random generator: lengths,
commas and paragraph breaks vary the way a book's do, and the same seed gives the same text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

FIRST_SENTENCE = (
    "When the evening train finally pulled into the station, the platform was already "
    "crowded with people waiting in the cold."
)
"""A realistic first sentence: 121 characters, with a comma after the first clause."""

_OPENERS = (
    "In the morning",
    "After a long silence",
    "Without a word",
    "By the time the rain stopped",
    "As the lamps came on",
    "Later that week",
    "Once the letter arrived",
    "Near the old harbour",
)
_SUBJECTS = (
    "the keeper of the lighthouse",
    "her younger brother",
    "the schoolteacher",
    "a stranger in a grey coat",
    "the baker on the corner",
    "the captain",
    "my grandmother",
    "the boy with the red scarf",
)
_VERBS = (
    "walked slowly along",
    "looked out across",
    "spoke quietly about",
    "remembered",
    "carried a basket toward",
    "wrote a short note about",
    "waited patiently beside",
    "laughed at the thought of",
)
_OBJECTS = (
    "the empty market square",
    "the bridge over the river",
    "the fields behind the church",
    "a house with green shutters",
    "the noise of the distant city",
    "the winter that never seemed to end",
    "the garden wall",
    "the last boat of the season",
)
_TAILS = (
    "and nobody said anything for a while",
    "while the wind rattled the windows",
    "though it was already getting dark",
    "because there was nothing else to do",
    "as if the whole town were holding its breath",
    "until the bells rang for supper",
)


def sentences(seed: int = 7) -> Iterator[str]:
    """An endless stream of sentences."""
    rng = random.Random(seed)
    while True:
        core = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        shape = rng.random()
        if shape < 0.35:
            text = f"{rng.choice(_OPENERS)}, {core}"
        elif shape < 0.7:
            text = f"{core}, {rng.choice(_TAILS)}"
        else:
            text = core
        text = text[0].upper() + text[1:]
        yield text + ("?" if rng.random() < 0.05 else ".")


def prose(chars: int, seed: int = 7) -> str:
    """About ``chars`` characters (never a sentence more) in paragraphs of 3–7 sentences."""
    rng = random.Random(seed + 1)
    paragraphs: list[list[str]] = [[]]
    budget = rng.randint(3, 7)
    total = 0
    for sentence in sentences(seed):
        if total >= chars:
            break
        if len(paragraphs[-1]) == budget:
            paragraphs.append([])
            budget = rng.randint(3, 7)
        paragraphs[-1].append(sentence)
        total += len(sentence) + 1
    return "\n\n".join(" ".join(paragraph) for paragraph in paragraphs) + "\n"


def write_prose(path: Path, size_bytes: int, seed: int = 7) -> Path:
    """A UTF-8 text file of at least ``size_bytes``, written in blocks (50 MB never in memory)."""
    block = 1 << 20
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        part = 0
        while written < size_bytes:
            text = prose(min(block, size_bytes - written), seed + part)
            handle.write(text)
            written += len(text.encode("utf-8")) + 1
            handle.write("\n")
            part += 1
    return path
