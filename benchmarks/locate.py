"""locate on generated 30-minute lectures: paraphrased queries (no word of the talk) about one
sentence per topic; a hit when the best span overlaps that sentence.

Compared in the same run on the same cached transcripts: clips of 2, 3 (the default) and 4
sentences, and the baseline **line only** (the best single line, no clip retrieval).

    python benchmarks/locate.py [--seeds 1 2 4]

Writes benchmarks/results/locate.json and .md (the talks of benchmarks/chapters.py; run that
first, or this transcribes them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks._machine import cpu_name  # noqa: E402
from videopipe.chapters.job import chapter_sources, sentences  # noqa: E402
from videopipe.locate.search import LocateConfig, clip_ranges, find_spans  # noqa: E402
from videopipe.testing.lecture import make_lecture  # noqa: E402
from videopipe.text.build import load_timeline  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
VARIANTS = {"clips of 2": 2, "clips of 3 (default)": 3, "clips of 4": 4, "line only (baseline)": 1}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    from videopipe.embedders.text import TextEmbedder

    embedder = TextEmbedder()
    hits: dict[str, list[bool]] = {k: [] for k in VARIANTS}
    misses: list[dict] = []
    t0 = time.perf_counter()
    for seed in args.seeds:
        path, lecture = make_lecture(seed)
        timeline = load_timeline(path, chapter_sources(None)[0])
        lines = sentences([ln for ln in timeline.lines if ln.source.value != "screen" and ln.text.strip()])
        line_emb = embedder.embed_texts([ln.text for ln in lines]).numpy()
        queries = embedder.embed_texts([f.query for f in lecture.facts]).numpy()
        for name, k in VARIANTS.items():
            clips = clip_ranges(len(lines), k)
            clip_emb = embedder.embed_texts(
                [" ".join(ln.text for ln in lines[a:b]) for a, b in clips]
            ).numpy()
            for fact, q in zip(lecture.facts, queries):
                best = find_spans(line_emb @ q, clips, clip_emb @ q, LocateConfig(top=1, clip_lines=k))[0]
                a, b = lines[best.first].start_s, lines[best.last].end_s
                ok = bool(a < fact.end_s and b > fact.start_s)
                hits[name].append(ok)
                if not ok and k == 3:
                    misses.append(
                        {
                            "seed": seed,
                            "query": fact.query,
                            "wanted": fact.text,
                            "found": lines[best.line_scores[0][0]].text,
                        }
                    )
    rates = {k: round(float(np.mean(v)), 3) for k, v in hits.items()}
    result = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "seeds": args.seeds,
        "queries": len(hits["clips of 3 (default)"]),
        "hit_rate": rates,
        "wall_s": round(time.perf_counter() - t0, 1),
        "misses_default": misses,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "locate.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# locate on generated 30-minute lectures",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, load average "
        f"{result['machine']['load_avg_1m']} (shared). Seeds {args.seeds}, {result['queries']} paraphrased queries "
        "(no word of the talk); hit = the best span overlaps the sentence that says it.",
        "",
        "| variant | hit rate |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rates.items()),
        "",
        "Misses of the default (the ASR's transcript of the wanted sentence is often garbled):",
        "",
        *(f'- seed {m["seed"]}: "{m["query"]}" -> "{m["found"]}" (wanted "{m["wanted"]}")' for m in misses),
    ]
    (OUT / "locate.md").write_text("\n".join(md) + "\n")
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
