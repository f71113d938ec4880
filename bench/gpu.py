"""GPU benchmark of every attention backend (run on a CUDA machine; not run in CI).

Part 1, attention alone: forward + backward time (CUDA events, median) and peak memory
(torch.cuda.max_memory_allocated) against sequence length for eager, sdpa, flex, flash-attn and varlen, bf16,
B·T = 16k tokens, on (a) plain causal rows and (b) packed rows with a DocumentMask built from Alpaca-like lengths.
Part 2, training at GPT-2-small (124M) shape: n_layer=12, n_head=12, d_model=768, seq 1024, bf16 autocast, byte
vocab; useful (non-pad) tokens/s for pad-to-longest (sdpa) and for packing with each backend (auto included).

A backend that cannot run is reported as unavailable with the reason (never silently replaced by another).

    LMTRICKS_DATA=/path/to/data python bench/gpu.py [--json gpu.json] [--lengths 512 1024 2048 4096 8192] [--steps 20]
"""
import argparse, json, os, statistics, sys
import torch
import lmtricks.attention as A
from lmtricks.model import ATTENTION_BACKENDS, GPT, GPTConfig
from lmtricks.packing import DocumentMask, PackedBatches, PaddedBatches, pack_best_fit, collate_packed
from lmtricks.train import TrainConfig, make_optimizer, next_token_loss

BACKENDS = ["eager", "sdpa", "flex", "flash-attn", "varlen"]

def cuda_time(fn, reps=5, warmup=1):
    "Median milliseconds of `fn()` over `reps` calls after `warmup` calls (the first compiles / warms up)."
    times = []
    for _ in range(warmup + reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize(); times.append(s.elapsed_time(e))
    return statistics.median(times[warmup:])

def doc_mask(B, T, rng):
    "A DocumentMask of packed rows whose documents have log-normal lengths (median ~T/4)."
    doc = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        t, k = 0, 0
        while t < T:
            n = int(min(T - t, max(2, rng.lognormvariate(0, 0.8) * T / 4))); doc[b, t:t + n] = k; t += n; k += 1
    return DocumentMask.from_doc_ids(doc)

def attention_table(lengths, tokens=16384, H=12, D=64):
    import random
    rows = []
    for T in lengths:
        B = max(1, tokens // T)
        for kind in ("causal", "document"):
            mask = None if kind == "causal" else doc_mask(B, T, random.Random(0)).to("cuda")
            for name in BACKENDS:
                ok, why = A.backend_available(name, "cuda")
                if not ok: rows.append(dict(T=T, mask=kind, backend=name, error=why)); continue
                if name == "eager" and T > 4096: rows.append(dict(T=T, mask=kind, backend=name, error="skipped: O(T^2) memory")); continue
                q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
                fn = ATTENTION_BACKENDS[name]
                def step(): fn(q, k, v, mask).float().square().mean().backward()
                try:
                    torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
                    ms = cuda_time(step)
                    rows.append(dict(T=T, mask=kind, backend=name, ms=ms, peak_mib=(torch.cuda.max_memory_allocated() - base) / 2**20))
                except Exception as e:
                    rows.append(dict(T=T, mask=kind, backend=name, error=f"{type(e).__name__}: {str(e)[:120]}"))
                del q, k, v; torch.cuda.empty_cache()
    return rows

def training_table(steps, batch, seq):
    from lmtricks.data import ByteTokenizer
    sys.path.insert(0, os.path.dirname(__file__))
    from packing_cpu import documents
    tok = ByteTokenizer()
    docs, name = documents("alpaca", tok, scale=1.0)
    cfg = dict(vocab_size=tok.vocab_size, block_size=seq, n_layer=12, n_head=12, d_model=768)
    setups = [("padded", "sdpa")] + [("packed", b) for b in BACKENDS[1:] + ["auto"]]
    rows = []
    for mode, backend in setups:
        ok, why = A.backend_available(backend, "cuda")
        if not ok: rows.append(dict(mode=mode, backend=backend, error=why)); continue
        src = PaddedBatches(docs, batch, seq, tok.pad_id) if mode == "padded" else PackedBatches(docs, batch, seq, tok.pad_id, mask="document")
        torch.manual_seed(0)
        model = GPT(GPTConfig(**cfg, attn_backend=backend)).cuda(); opt = make_optimizer(model, TrainConfig())
        real, ms = 0, []
        try:
            for step in range(steps + 3):
                b = {k: v.cuda() if torch.is_tensor(v) else v for k, v in src.batch(step).items()}
                if hasattr(b.get("mask"), "to"): b["mask"] = b["mask"].to("cuda")
                def one():
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        s, n = next_token_loss(model, b)
                    (s / n).backward(); opt.step(); opt.zero_grad(set_to_none=True)
                t = cuda_time(one, reps=1, warmup=0)
                if step >= 3: ms.append(t); real += b["n_real"]
            rows.append(dict(mode=mode, backend=backend, ms_per_step=statistics.median(ms), real_tok_s=real / (sum(ms) / 1e3),
                             params=model.num_params()))
        except Exception as e:
            rows.append(dict(mode=mode, backend=backend, error=f"{type(e).__name__}: {str(e)[:120]}"))
        del model, opt; torch.cuda.empty_cache()
    return rows, name

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    ap.add_argument("--steps", type=int, default=20); ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=1024); ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if not torch.cuda.is_available(): sys.exit("bench/gpu.py needs a CUDA GPU; for CPU use bench/packing_cpu.py and bench/attention_cpu.py")
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    att = attention_table(a.lengths)
    print("\n| T | mask | backend | fwd+bwd ms | peak MiB |\n|---|---|---|---|---|")
    for r in att: print(f"| {r['T']} | {r['mask']} | {r['backend']} | " + (f"{r['ms']:.2f} | {r['peak_mib']:.0f} |" if "ms" in r else f"unavailable: {r['error']} | |"))
    tr, data = training_table(a.steps, a.batch, a.seq)
    base = next((r["real_tok_s"] for r in tr if r["mode"] == "padded" and "real_tok_s" in r), None)
    print(f"\n124M-shape training on {data}, seq {a.seq}, batch {a.batch}, bf16\n| batching | backend | ms/step | useful tokens/s | vs padded |\n|---|---|---|---|---|")
    for r in tr:
        if "error" in r: print(f"| {r['mode']} | {r['backend']} | unavailable: {r['error']} | | |"); continue
        print(f"| {r['mode']} | {r['backend']} | {r['ms_per_step']:.0f} | {r['real_tok_s']:.0f} | {r['real_tok_s'] / base:.2f}x |")
    if a.json:
        with open(a.json, "w") as f: json.dump(dict(args=vars(a), device=torch.cuda.get_device_name(), attention=att, training=tr), f, indent=1)

if __name__ == "__main__": main()
