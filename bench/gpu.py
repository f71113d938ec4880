"""GPU benchmark, prepared to run in one go on a lent GPU (about 4 minutes on an H100/H200; CPU dry run: --config tiny).

    PYTHONPATH=. python3 bench/gpu.py --out $OUT/gpu.json [--alpaca .gpudata/alpaca_data_2000.jsonl] [--config 124m]

Sections (each guarded: one failure is recorded and the others still run; the JSON is rewritten after each):
  train      GPT-2-small shape (124M with a 50304 vocabulary, seq 1024), bf16 autocast: eager, and compiled at
             several batch sizes; tokens/s and MFU against the card's dense bf16 peak (989 TFLOP/s for H100/H200);
             the nanoGPT architecture with the same settings alongside.
  attention  attention alone (forward + backward, bf16): SDPA's flash, memory-efficient and math kernels at
             several lengths; then documents of Alpaca-like lengths: padded to the longest (SDPA) vs packed
             (PyTorch varlen, `torch.nn.attention.varlen`, when this torch has it; SDPA with the dense document mask).
  packing    124M training steps, bf16 eager: B shuffled documents padded to the longest (rounded up to a multiple
             of 128; every shape warmed up before timing) vs B best-fit packed rows of seq tokens with a document mask
             (attn_backend "auto": flash-attn, else varlen, else flex); useful (non-pad) tokens/s and the speed-up.
  loss       a short training run in fp32 and in bf16 autocast from the same seed and data: final losses.
Alpaca lengths come from --alpaca (a jsonl with instruction/input/output; ~4 bytes per GPT-2 token), else synthetic
log-normal lengths with Alpaca's median. Needs only torch (numpy and tqdm are used if present).
"""
import argparse, json, math, os, random, statistics, sys, time, traceback, types

T_START = time.time()
try: import tqdm  # noqa: F401  (lmtricks.train imports it; a bare GPU machine may not have it)
except ImportError:
    _m = types.ModuleType("tqdm")
    class _NoBar:
        def __init__(self, *a, **k): pass
        def update(self, *a, **k): pass
        def set_postfix(self, *a, **k): pass
        def close(self): pass
    _m.tqdm = _NoBar; sys.modules["tqdm"] = _m

import torch
import torch.nn.functional as F
from lmtricks.core import autocast, compiler_available
from lmtricks.model import GPT, GPTConfig
from lmtricks.bench import NanoGPTRef, TrainBench, run_interleaved, peak_flops
from lmtricks.packing import DocumentMask, pack_best_fit, collate_packed, collate_padded
from lmtricks.train import TrainConfig, param_groups

CONFIGS = {
    "124m": dict(model=GPTConfig(vocab_size=50304, block_size=1024, n_layer=12, n_head=12, d_model=768),
                 batch_sizes=(16, 32, 48), pack_batch=16, att_lengths=(1024, 4096), att_tokens=16384, heads=12, head_dim=64,
                 loss=dict(model=GPTConfig(vocab_size=256, block_size=128, n_layer=4, n_head=4, d_model=256), steps=150, batch=32)),
    "tiny": dict(model=GPTConfig(vocab_size=64, block_size=256, n_layer=2, n_head=2, d_model=64),
                 batch_sizes=(2, 4), pack_batch=4, att_lengths=(64, 128), att_tokens=512, heads=2, head_dim=32,
                 loss=dict(model=GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, d_model=32), steps=20, batch=8)),
}

def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()

def timed(fn, dev, reps=5, warmup=2):
    "Median milliseconds of fn() after warm-up calls."
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        sync(dev); t = time.perf_counter(); fn(); sync(dev); ts.append(1e3 * (time.perf_counter() - t))
    return statistics.median(ts)

def alpaca_lengths(path, seq, n=2000, seed=0):
    "GPT-2-token lengths (~4 bytes a token, + bos/sep/eos) of Alpaca examples from `path`, else synthetic ones."
    if path and os.path.exists(path):
        out = []
        with open(path) as f:
            for line in f:
                if line.strip():
                    e = json.loads(line)
                    text = e.get("instruction", "") + "\n" + e.get("input", "") + "\n" + e.get("output", "")
                    out.append(min(seq, 3 + math.ceil(len(text.encode()) / 4)))
        return out, f"alpaca ({path})"
    rng = random.Random(seed)   # Alpaca texts: roughly log-normal bytes, median ~1,050 (the 2,000-example file)
    return [min(seq, 3 + math.ceil(rng.lognormvariate(math.log(1050), 0.6) / 4)) for _ in range(n)], "synthetic alpaca-like"

def docs_of(lengths, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (n,), generator=g) for n in lengths]

def section_train(c, dev, args):
    cfg, T = c["model"], c["model"].block_size
    comp = args.compile and compiler_available(dev)[0]
    rows, best = [], None
    def run(label, model, B, compile, rounds=3, steps=3, mode=None):
        torch.manual_seed(0)
        b = TrainBench(model, B, T, "bf16", compile, dev, compile_mode=mode)
        run_interleaved([b], rounds=rounds, steps=steps, warmup=2)
        r = dict(variant=label, batch=B, **b.result()); rows.append(r)
        print(f"  {label:40s} batch {B:3d}: {r['tokens_per_s']:,.0f} tok/s"
              + (f", MFU {100 * r['mfu']:.1f}%" if r["mfu"] else ""), flush=True)
        del b, model
        if dev.type == "cuda": torch.cuda.empty_cache()
        return r
    B0 = (args.batch_sizes or c["batch_sizes"])[0]
    run("lmtricks GPT, bf16 eager", GPT(cfg), B0, False)
    for B in (args.batch_sizes or c["batch_sizes"]):
        if time.time() - T_START > 0.45 * args.budget: print("  (time budget: skipping larger batches)"); break
        try: r = run(f"lmtricks GPT, bf16 {'+ compile' if comp else 'eager'}", GPT(cfg), B, comp)
        except torch.OutOfMemoryError as e: rows.append(dict(variant="lmtricks GPT", batch=B, error=f"out of memory: {str(e)[:100]}")); break
        if best is None or r["tokens_per_s"] > best["tokens_per_s"]: best = r
    if time.time() - T_START < 0.55 * args.budget:
        run(f"nanoGPT architecture, bf16 {'+ compile' if comp else 'eager'}", NanoGPTRef(cfg), best["batch"], comp)
    for mode in (args.compile_modes if comp else []):
        if time.time() - T_START > 0.6 * args.budget: print(f"  (time budget: skipping compile mode {mode})"); break
        try: run(f"lmtricks GPT, bf16 + compile ({mode})", GPT(cfg), best["batch"], True, mode=mode)
        except Exception as e: rows.append(dict(variant=f"lmtricks GPT ({mode})", batch=best["batch"], error=f"{type(e).__name__}: {str(e)[:150]}"))
    if comp and args.inductor_tuning and time.time() - T_START < 0.7 * args.budget:
        import torch._dynamo as dynamo, torch._inductor.config as ic
        dynamo.reset(); ic.coordinate_descent_tuning = True      # Inductor searches each kernel's launch config
        try:
            for label, m in (("lmtricks GPT", GPT(cfg)), ("nanoGPT architecture", NanoGPTRef(cfg))):
                run(f"{label}, bf16 + compile (coordinate-descent tuning)", m, best["batch"], True)
        except Exception as e: rows.append(dict(variant="coordinate-descent tuning", batch=best["batch"], error=f"{type(e).__name__}: {str(e)[:150]}"))
        finally: ic.coordinate_descent_tuning = False; dynamo.reset()
    return dict(rows=rows, best=best, compile=comp, peak_flops=peak_flops(dev))

def section_attention(c, dev, args):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    H, D, dt = c["heads"], c["head_dim"], torch.bfloat16
    rows = []
    for T in c["att_lengths"]:
        B = max(1, c["att_tokens"] // T)
        q, k, v = (torch.randn(B, H, T, D, device=dev, dtype=dt, requires_grad=True) for _ in range(3))
        for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("math", SDPBackend.MATH)):
            def step():
                with sdpa_kernel(be): F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
            try: rows.append(dict(kind="causal", T=T, batch=B, kernel=f"sdpa {name}", ms=timed(step, dev)))
            except Exception as e: rows.append(dict(kind="causal", T=T, batch=B, kernel=f"sdpa {name}", error=f"{type(e).__name__}: {str(e)[:150]}"))
    # documents of Alpaca-like lengths, about att_tokens useful tokens: padded vs packed
    seq = c["model"].block_size
    lengths, src = alpaca_lengths(args.alpaca, seq)
    take, n = [], 0
    for L in lengths:
        if n + L > c["att_tokens"]: break
        take.append(L); n += L
    Lmax = max(take)
    qp, kp, vp = (torch.randn(len(take), H, Lmax, D, device=dev, dtype=dt, requires_grad=True) for _ in range(3))
    def padded():   # right padding + causal is exact for the real tokens (pads come after them)
        F.scaled_dot_product_attention(qp, kp, vp, is_causal=True).sum().backward()
    rows.append(dict(kind="documents", kernel="padded to longest, sdpa causal", docs=len(take), useful=n, slots=len(take) * Lmax, ms=timed(padded, dev)))
    rows_idx = pack_best_fit(take, seq)
    doc = torch.zeros(len(rows_idx), seq, dtype=torch.long)
    for r, row in enumerate(rows_idx):
        t = 0
        for j, i in enumerate(row): doc[r, t:t + take[i]] = j; t += take[i]
        doc[r, t:] = len(row)
    dm = DocumentMask.from_doc_ids(doc.to(dev))
    qk = [torch.randn(len(rows_idx), H, seq, D, device=dev, dtype=dt, requires_grad=True) for _ in range(3)]
    def packed_dense():
        F.scaled_dot_product_attention(*qk, attn_mask=dm.dense()).sum().backward()
    try: rows.append(dict(kind="documents", kernel="packed, sdpa + dense document mask", rows=len(rows_idx), useful=n, ms=timed(packed_dense, dev)))
    except Exception as e: rows.append(dict(kind="documents", kernel="packed, sdpa + dense document mask", error=f"{type(e).__name__}: {str(e)[:150]}"))
    try:
        from torch.nn.attention.varlen import varlen_attn
        qf, kf, vf = (torch.randn(int(dm.cu_seqlens[-1]), H, D, device=dev, dtype=dt, requires_grad=True) for _ in range(3))
        def packed_varlen():
            varlen_attn(qf, kf, vf, dm.cu_seqlens, dm.cu_seqlens, dm.max_seqlen, dm.max_seqlen, window_size=(-1, 0)).sum().backward()
        rows.append(dict(kind="documents", kernel="packed, torch varlen", rows=len(rows_idx), useful=n, ms=timed(packed_varlen, dev)))
    except Exception as e: rows.append(dict(kind="documents", kernel="packed, torch varlen", error=f"{type(e).__name__}: {str(e)[:150]}"))
    return dict(rows=rows, lengths_source=src)

def section_packing(c, dev, args):
    cfg, seq, B = c["model"], c["model"].block_size, c["pack_batch"]
    lengths, src = alpaca_lengths(args.alpaca, seq)
    docs = docs_of(lengths, cfg.vocab_size)
    order = random.Random(0).sample(range(len(docs)), len(docs))
    rows_idx = pack_best_fit([d.numel() for d in docs], seq)
    # padded: B shuffled documents per batch, padded to the longest rounded up to a multiple of 128 (at most seq/128
    # shapes, each warmed up before timing, as a long run would have them warm); packed: B best-fit rows of seq tokens
    padded_batches = [order[i:i + B] for i in range(0, len(order) - B + 1, B)]
    setups = {"padded (pad to longest), sdpa": "sdpa", "packed, document mask, auto": "auto"}   # both: B·seq token slots
    state = {}
    for label, backend in setups.items():
        torch.manual_seed(0)
        m = GPT(GPTConfig(**{**cfg.to_dict(), "attn_backend": backend})).to(dev).train()
        opt = torch.optim.AdamW(param_groups(m, 0.1), lr=3e-4, fused=dev.type == "cuda")
        state[label] = dict(model=m, opt=opt, times=[], useful=0, slots=0)
    def batch(label, i):
        "A batch on the device and its number of real (non-pad) tokens."
        if label.startswith("padded"):
            chosen = [docs[j] for j in padded_batches[i]]
            b = collate_padded(chosen, 0)
            L = min(seq, -(-b["input_ids"].shape[1] // 128) * 128)
            pad = L - b["input_ids"].shape[1]
            b = dict(input_ids=F.pad(b["input_ids"], (0, pad), value=0), labels=F.pad(b["labels"], (0, pad), value=-100),
                     pos=None, mask=None)
        else:
            chosen = [docs[j] for r in range(i * B, (i + 1) * B) for j in rows_idx[r]]
            b = collate_packed([[docs[j] for j in rows_idx[r]] for r in range(i * B, (i + 1) * B)], seq, 0, "document")
        to = lambda v: v.to(dev) if torch.is_tensor(v) or isinstance(v, DocumentMask) else v
        return {k: to(v) for k, v in b.items()}, sum(d.numel() for d in chosen)
    steps = min(args.pack_steps, len(rows_idx) // B - 2, len(padded_batches) - 2)
    def train_step(s, b):
        with autocast(dev, "bf16"):
            logits = s["model"](b["input_ids"], pos=b["pos"], mask=b["mask"]).logits
            loss = F.cross_entropy(logits.flatten(0, 1).float(), b["labels"].flatten(), ignore_index=-100)
        loss.backward(); s["opt"].step(); s["opt"].zero_grad(set_to_none=True)
    warm = {}                                                     # one untimed step per padded shape first
    for i in range(2, steps + 2):
        b, _ = batch("padded (pad to longest), sdpa", i); warm.setdefault(tuple(b["input_ids"].shape), b)
    for b in warm.values(): train_step(state["padded (pad to longest), sdpa"], b)
    for i in range(steps + 2):                                    # interleaved; the first two are warm-up
        for label, s in state.items():
            b, n_real = batch(label, i)
            sync(dev); t = time.perf_counter()
            train_step(s, b)
            sync(dev)
            if i >= 2:
                s["times"].append(time.perf_counter() - t); s["useful"] += n_real
                s["slots"] += b["input_ids"].numel()
    out = {label: dict(useful_tok_per_s=s["useful"] / sum(s["times"]), ms_per_step=1e3 * statistics.median(s["times"]),
                       non_pad=s["useful"] / s["slots"]) for label, s in state.items()}
    pad, pack = out["padded (pad to longest), sdpa"], out["packed, document mask, auto"]
    return dict(rows=out, speedup=pack["useful_tok_per_s"] / pad["useful_tok_per_s"], lengths_source=src, steps=steps,
                mean_len=statistics.mean(lengths), padded_shapes=sorted(warm))

def section_loss(c, dev, args):
    lc = c["loss"]; cfg, steps, B = lc["model"], lc["steps"], lc["batch"]
    g = torch.Generator().manual_seed(0)
    half = cfg.block_size // 2 + 1
    data = [torch.randint(0, cfg.vocab_size, (B, half), generator=g) for _ in range(steps)]
    data = [torch.cat([x, x], 1)[:, :cfg.block_size + 1] for x in data]    # copy task: the second half repeats the first
    out = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        m = GPT(cfg).to(dev).train(); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        losses = []
        for x in data:
            x = x.to(dev)
            with autocast(dev, precision):
                loss = F.cross_entropy(m(x[:, :-1]).logits.flatten(0, 1).float(), x[:, 1:].flatten())
            loss.backward(); opt.step(); opt.zero_grad(set_to_none=True); losses.append(loss.item())
        out[precision] = dict(first=losses[0], final=statistics.mean(losses[-10:]), curve=losses[::max(1, steps // 30)])
    return dict(fp32_final=out["fp32"]["final"], bf16_final=out["bf16"]["final"],
                rel_diff=abs(out["bf16"]["final"] - out["fp32"]["final"]) / out["fp32"]["final"], curves=out)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="gpu.json"); ap.add_argument("--config", default="124m", choices=list(CONFIGS))
    ap.add_argument("--alpaca", default=".gpudata/alpaca_data_2000.jsonl", help="alpaca jsonl for document lengths")
    ap.add_argument("--device", default=None); ap.add_argument("--budget", type=float, default=270, help="seconds")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--only", nargs="*", default=None, help="run only these sections")
    ap.add_argument("--compile-modes", nargs="*", default=[], help="extra torch.compile modes to try at the best batch size")
    ap.add_argument("--batch-sizes", nargs="*", type=int, default=None, help="training batch sizes (default: the config's)")
    ap.add_argument("--inductor-tuning", action="store_true", help="also time both models with Inductor's coordinate-descent tuning")
    ap.add_argument("--pack-steps", type=int, default=8, help="timed steps per arm in the packing section")
    args = ap.parse_args()
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    c = CONFIGS[args.config]
    res = dict(args=vars(args), torch=torch.__version__, device=str(dev),
               card=torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", sections={})
    print(f"[gpu.py] {res['card']}, torch {torch.__version__}, config {args.config}", flush=True)
    if dev.type == "cuda": torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    for name, fn in (("train", section_train), ("attention", section_attention), ("packing", section_packing), ("loss", section_loss)):
        if args.only and name not in args.only: continue
        t = time.time()
        try: r = dict(ok=True, **fn(c, dev, args))
        except Exception as e:
            r = dict(ok=False, error=f"{type(e).__name__}: {str(e)[:300]}", traceback=traceback.format_exc()[-3000:])
        r["seconds"] = time.time() - t
        res["sections"][name] = r
        print(f"[gpu.py] {name}: {'ok' if r['ok'] else 'FAILED: ' + r['error']} ({r['seconds']:.0f}s)", flush=True)
        if dev.type == "cuda": torch.cuda.empty_cache()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f: json.dump(res, f, indent=1, default=str)
    res["total_seconds"] = time.time() - T_START
    with open(args.out, "w") as f: json.dump(res, f, indent=1, default=str)
    summary(res)

def summary(res):
    s = res["sections"]
    print(f"\n## {res['card']} (torch {res['torch']}), {res['total_seconds']:.0f}s\n")
    if s.get("train", {}).get("ok"):
        print("| training | batch | tokens/s | MFU |\n|---|---|---|---|")
        for r in s["train"]["rows"]:
            if "error" in r: print(f"| {r['variant']} | {r['batch']} | {r['error']} | |"); continue
            mfu = "—" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
            print(f"| {r['variant']} | {r['batch']} | {r['tokens_per_s']:,.0f} | {mfu} |")
    if s.get("attention", {}).get("ok"):
        print(f"\n| attention fwd+bwd (bf16; documents: {s['attention']['lengths_source']}) | shape | ms |\n|---|---|---|")
        for r in s["attention"]["rows"]:
            shape = f"T={r['T']} B={r['batch']}" if r["kind"] == "causal" else f"{r.get('useful', '')} useful tokens"
            print(f"| {r['kernel']} | {shape} | {r['ms']:.2f} |" if "ms" in r else f"| {r['kernel']} | {shape} | {r['error']} |")
    if s.get("packing", {}).get("ok"):
        p = s["packing"]
        print(f"\n| {res['args']['config']} training on {p['lengths_source']} | useful tokens/s | non-pad | ms/step |\n|---|---|---|---|")
        for k, r in p["rows"].items(): print(f"| {k} | {r['useful_tok_per_s']:,.0f} | {100 * r['non_pad']:.0f}% | {r['ms_per_step']:.0f} |")
        print(f"packing speed-up (useful tokens/s): {p['speedup']:.2f}x")
    if s.get("loss", {}).get("ok"):
        l = s["loss"]; print(f"\nloss check: fp32 final {l['fp32_final']:.4f}, bf16 final {l['bf16_final']:.4f} (relative difference {100 * l['rel_diff']:.2f}%)")
    for k, r in s.items():
        if not r.get("ok"): print(f"section {k} FAILED: {r['error']}")

if __name__ == "__main__": main()
