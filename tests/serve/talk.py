"""A subtitled talk of three topics (40 s each) in an allowed folder, a subtitle file outside it
and a video whose subtitle file is a symlink out: what the long-video job tests run on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videopipe.testing.subtitled import make_tiny_video, write_srt

TOPICS = (
    (
        "Boil a big pot of salted water for the pasta.",
        "Add the spaghetti and stir so it does not stick.",
        "Taste the noodles after eight minutes of cooking.",
        "Drain the pasta and keep a cup of the cooking water.",
        "Toss the spaghetti with tomato sauce and grated cheese.",
    ),
    (
        "The rocket stands on the launch pad before dawn.",
        "Engines ignite and the booster lifts off into the sky.",
        "The first stage separates two minutes into the flight.",
        "The spacecraft reaches orbit around the Earth.",
        "Mission control confirms the satellite deployed.",
    ),
    (
        "Plant the tomato seedlings in rich garden soil.",
        "Water the vegetable beds early in the morning.",
        "Pull the weeds between the rows of lettuce.",
        "Spread compost around the roots of the roses.",
        "Harvest the ripe beans and carrots in late summer.",
    ),
)
TOPIC_S = 40.0


@dataclass(frozen=True)
class Folder:
    allowed: Path
    secret: Path  # outside the allowed folder


def make_talk_folder(root: Path) -> Folder:
    """``root/allowed`` (talk.mp4 + talk.srt, leak.mp4 + leak.srt -> outside) and ``root/outside``."""
    allowed, outside = root / "allowed", root / "outside"
    allowed.mkdir()
    outside.mkdir()
    cues = [
        (k * TOPIC_S + i * 8.0, k * TOPIC_S + i * 8.0 + 7.0, line)
        for k, lines in enumerate(TOPICS)
        for i, line in enumerate(lines)
    ]
    make_tiny_video(allowed / "talk.mp4", duration_s=len(TOPICS) * TOPIC_S)
    write_srt(allowed / "talk.srt", cues)
    secret = write_srt(outside / "secret.srt", [(0.0, 5.0, "the-secret-canary-line")])
    make_tiny_video(allowed / "leak.mp4", duration_s=10.0)
    (allowed / "leak.srt").symlink_to(secret)
    return Folder(allowed, secret)
