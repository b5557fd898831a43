"""One decoding row through a linear layer: bfloat16 against ``Int8WeightLinear`` (the language
model's layers under ``--quantize int8-weights``), at the layer shapes of the SmolVLM2 language
models (SmolLM2-360M in the 500M: 960 wide, MLP 2560; SmolLM2-1.7B in the 2.2B: 2048 wide, MLP
8192; the output heads over the 49,280-token vocabulary). The mean of ``--steps``
calls after 5 warm-up calls, 2 threads, the shapes taking turns over ``--rounds``; the minimum
round per shape is reported.

    python benchmarks/int8_shapes.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _machine import cpu_name  # noqa: E402

SHAPES = [
    (960, 960),
    (960, 2560),
    (2560, 960),
    (960, 49280),
    (2048, 2048),
    (2048, 8192),
    (8192, 2048),
    (2048, 49280),
]


def _ms(f, steps: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(5):
        f()
    t = time.perf_counter()
    for _ in range(steps):
        f()
    return (time.perf_counter() - t) / steps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "int8_shapes.json")
    args = ap.parse_args()
    import torch

    from videopipe.models.quantize import Int8WeightLinear

    torch.set_num_threads(2)
    best: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        layers = {}
        for k, n in SHAPES:
            lin = torch.nn.Linear(k, n, bias=False).to(torch.bfloat16)
            layers[(k, n)] = (
                lin,
                Int8WeightLinear.from_linear(lin),
                torch.randn(1, 1, k, dtype=torch.bfloat16),
            )
        for _ in range(args.rounds):
            for (k, n), (lin, q, x) in layers.items():
                row = best.setdefault(f"{k}x{n}", {"bf16_ms": float("inf"), "int8_ms": float("inf")})
                row["bf16_ms"] = min(row["bf16_ms"], _ms(lambda lin=lin, x=x: lin(x), args.steps))
                row["int8_ms"] = min(row["int8_ms"], _ms(lambda q=q, x=x: q(x), args.steps))
    result = {
        "benchmark": "int8_shapes",
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_avg": os.getloadavg()[0],
        "rows": {s: {k: round(v, 3) for k, v in r.items()} for s, r in best.items()},
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# One decoding row through a linear layer: bfloat16 against int8 weights (`benchmarks/int8_shapes.py`)",
        "",
        f"{result['machine']}, {result['time_utc']} UTC, load average {result['load_avg']:.2f}; 2 threads, "
        f"minimum over {args.rounds} rounds of the mean of {args.steps} calls; random weights (time only).",
        "",
        "| in x out | bf16 ms | int8 weights ms | speedup |",
        "|---|---|---|---|",
    ]
    for s, r in result["rows"].items():
        lines.append(f"| {s} | {r['bf16_ms']} | {r['int8_ms']} | {r['bf16_ms'] / r['int8_ms']:.2f}x |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
