"""``videopipe compare VIDEO --compressors a,b --budgets 5,10,25``: measure compressors on the
user's own video with the user's model (the tokens ``Pipeline.prepare`` encodes), so people
choose a compressor by measurement."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from videopipe.cli.common import print_json
from videopipe.cli.options import PipelineFlags, VideoFile, pipeline_options
from videopipe.cli.outputs import check_output_file, write_output
from videopipe.errors import ConfigError

if TYPE_CHECKING:
    from videopipe.types import VisualTokens

BASELINE = "drop_frames"
COMPARE_FLAGS = ("model", "sampler", "num_frames", "size", "backend", "device", "dtype", "no_cache")


def parse_budgets(text: str) -> list[float]:
    """``"5,10,25"`` -> [0.05, 0.1, 0.25] (percent of the video's visual tokens, in (0, 100])."""
    out = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            raise ConfigError(
                f"--budgets: {part.strip()!r} is not a number; use percents like 5,10,25"
            ) from None
        if not 0 < value <= 100:
            raise ConfigError(f"--budgets: {value:g} is not a percent in (0, 100]; use e.g. 5,10,25")
        out.append(value / 100)
    return out


def parse_events(text: str | None) -> list[tuple[float, float]]:
    """``"12-14,300.5-301"`` -> [(12, 14), (300.5, 301)] (seconds); None -> []."""
    if not text:
        return []
    spans = []
    for part in text.split(","):
        a, sep, b = part.strip().partition("-")
        try:
            start, end = float(a), float(b)
        except ValueError:
            raise ConfigError(
                f"--events: {part.strip()!r} is not START-END in seconds (e.g. 12-14)"
            ) from None
        if not sep or not (0 <= start <= end < math.inf):
            raise ConfigError(f"--events: {part.strip()!r} is not START-END with 0 <= START <= END")
        spans.append((start, end))
    return spans


@pipeline_options(COMPARE_FLAGS)
def compare(
    video: VideoFile,
    compressors: str = typer.Option(
        "temporal_merge,segment_merge,progressive[per_frame_budget=0]",
        "--compressors",
        "-c",
        help="Comma-separated compressor specs: names, options in brackets "
        "(progressive[per_frame_budget=0]) and chains with +; see `videopipe list`.",
    ),
    budgets: str = typer.Option(
        "5,10,25", "--budgets", "-b", help="Budgets in percent of the video's tokens."
    ),
    events: str | None = typer.Option(
        None,
        "--events",
        help="Spans of short events, START-END seconds, comma-separated: adds the needle score.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of the metrics vs budget here."),
    *,
    pipeline: PipelineFlags,
) -> None:
    """Compress the visual tokens of VIDEO with each compressor at each budget and print mean
    coverage, the 5th percentile of per-frame coverage, the needle score (with --events) and
    the time per 10k tokens, next to dropping whole frames (drop_frames)."""
    from videopipe.compressors import build
    from videopipe.compressors.spec import split_specs
    from videopipe.decode.probe import check_path, probe

    names = split_specs(compressors)
    if not names:
        raise ConfigError("--compressors: give at least one compressor, e.g. temporal_merge,segment_merge")
    fractions = parse_budgets(budgets)
    spans = parse_events(events)
    made = {name: build(name) for name in names}  # unknown names fail before any decoding
    if plot is not None:
        check_output_file(plot, "--plot")
    check_path(video)
    probe(video)
    tokens = _tokens(video, pipeline)
    rows = compare_tokens(tokens, made, fractions, spans)
    if plot is not None:
        plot_rows(rows, plot)
    if json_out:
        print_json({"video": str(video), "tokens": len(tokens), "events_s": spans, "rows": rows})
        return
    typer.echo(f"{video}: {len(tokens)} visual tokens, {len(tokens.frame_ids())} frames")
    typer.echo(table(rows, needle=bool(spans)))


def _tokens(video: Path, pipeline: PipelineFlags) -> VisualTokens:
    from videopipe.pipeline import Pipeline

    cfg = pipeline.config(compressor="none", text="none")  # tokens only: no prompt text
    return Pipeline(config=cfg, load_model=False).prepare(video).tokens


def compare_tokens(
    tokens: VisualTokens,
    compressors: dict[str, object],
    fractions: list[float],
    spans: list[tuple[float, float]],
) -> list[dict]:
    """One row per (budget, method): the metrics of ``measure`` plus the budget."""
    from videopipe.compressors.metrics import drop_frames_uniform, event_mask, measure, timed

    mask = event_mask(tokens, spans) if spans else None
    if mask is not None and not bool(mask.any()):
        raise ConfigError(
            "--events: no sampled frame lies in the given spans; sample more frames or widen them"
        )
    rows = []
    for frac in fractions:
        budget = max(1, int(frac * len(tokens)))
        for name, fn in [(BASELINE, drop_frames_uniform), *compressors.items()]:
            out, seconds = timed(fn, tokens, budget)  # type: ignore[arg-type]
            m = measure(tokens, out, events=mask, seconds=seconds)
            rows.append(
                {"budget_percent": round(100 * frac, 4), "budget": budget, "method": name, **m.to_dict()}
            )
    return rows


def table(rows: list[dict], *, needle: bool) -> str:
    head = [
        "budget",
        "method",
        "tokens",
        "mean cov",
        "p5 frame cov",
        *(["needle"] if needle else []),
        "ms/10k",
    ]
    lines = [" | ".join(head)]
    for r in rows:
        cells = [
            f"{r['budget_percent']:g}%",
            r["method"],
            str(r["tokens_out"]),
            f"{r['mean_coverage']:.4f}",
            f"{r['p5_coverage']:.4f}",
            *([f"{r['needle_score']:.3f}"] if needle else []),
            f"{r['ms_per_10k_tokens']:.1f}",
        ]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def plot_rows(rows: list[dict], path: Path) -> None:
    """Metrics vs budget, one line per method, one panel per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("mean_coverage", "mean coverage"), ("p5_coverage", "5th pct frame coverage")]
    if rows and rows[0]["needle_score"] is not None:
        keys.append(("needle_score", "needle score"))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.6), squeeze=False)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for ax, (key, label) in zip(axes[0], keys):
        for meth in methods:
            rs = [r for r in rows if r["method"] == meth]
            style = dict(color="black", linestyle="--") if meth == BASELINE else {}
            ax.plot([r["budget_percent"] for r in rs], [r[key] for r in rs], marker="o", label=meth, **style)
        ax.set_xlabel("budget (% of tokens)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    png = io.BytesIO()  # to the very path given: savefig would add .png to a name without one
    fig.savefig(png, dpi=100, format="png")
    plt.close(fig)
    write_output(path, png.getvalue(), "--plot")
