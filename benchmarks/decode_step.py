"""One decoding step of SmolVLM2-500M's language model (SmolLM2-360M) after its 16-frame prompt
(1,280 tokens), by dtype, attention and torch threads: wall and CPU ms per step (median of 14),
and the prefill. One process, the model loaded once (``videopipe.testing.real_size``, random
bf16 weights); the attention is switched with ``set_attn_implementation``.

    python benchmarks/decode_step.py OUT.json     # the table in results/real_size.md

Run it with the machine to itself (see results/real_size.md, notes).
"""

import json
import sys
import time

import torch

from videopipe.models import load_model
from videopipe.models.attention import CPU_ATTENTION
from videopipe.testing.real_size import build_real_model

path = build_real_model("smolvlm2-500m")
m = load_model(path, device="cpu", dtype="bfloat16")
D = m.model.config.text_config.hidden_size
L = 1280
embed = m.model.get_input_embeddings()
res = {}


def run(tag, steps=16):
    with torch.inference_mode():
        e = torch.randn(1, L, D, generator=torch.Generator().manual_seed(0)).to(m.dtype)
        c = time.process_time()
        t = time.perf_counter()
        logits, past = m._run_lm(e, torch.arange(L)[None, None], logits_to_keep=1)
        pre = (time.perf_counter() - t, time.process_time() - c)
        ws, cs = [], []
        for i in range(steps):
            c = time.process_time()
            t = time.perf_counter()
            ids = torch.tensor([[int(torch.argmax(logits[0, -1]))]])
            p = torch.full((1, 1, 1), L + i, dtype=torch.long)
            logits, past = m._run_lm(embed(ids), p, past=past, past_len=L + i, logits_to_keep=1)
            ws.append(time.perf_counter() - t)
            cs.append(time.process_time() - c)
        ws, cs = sorted(ws[2:]), sorted(cs[2:])
        r = {
            "prefill_wall_s": round(pre[0], 2),
            "prefill_cpu_s": round(pre[1], 2),
            "step_wall_ms": round(1000 * ws[len(ws) // 2], 1),
            "step_cpu_ms": round(1000 * cs[len(cs) // 2], 1),
        }
    res[tag] = r
    print(tag, r, flush=True)


for dt in ("bfloat16", "float32"):
    if dt == "float32":
        m.model.float()
    for attn in (CPU_ATTENTION, "sdpa", "eager"):
        m.model.set_attn_implementation(attn)
        for th in (2, 1):
            torch.set_num_threads(th)
            run(f"{dt} {attn} threads={th}", steps=12 if attn == "eager" else 16)
json.dump(res, open(sys.argv[1], "w"), indent=1)
