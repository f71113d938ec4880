"""SmolLM2-135M-Instruct: lmtricks against transformers on the same weights (issue 27, "Speed").

    flock /tmp/lmtricks-cpu.lock env OMP_NUM_THREADS=2 PYTHONPATH=. python bench/pretrained.py --out bench/results/pretrained_cpu.json

Five measurements, each in fp32 and in `auto` precision (`resolve_precision("auto", "cpu")`: bf16 autocast with fp32
weights on CPUs with AMX / AVX-512 BF16; transformers runs under the same `torch.autocast`):
1. forward tokens/s, batch 8 x 256 tokens, no grad, all logits;
2. training step tokens/s, 4 x 256, forward + cross-entropy + backward + fused AdamW step (`lmtricks.bench.TrainBench`
   for both models, so the loss, optimizer and its settings are the same);
3.-5. greedy decoding tokens/s, `--new` new tokens after chat prompts of ~32 tokens, batch 1 and batch 8: lmtricks
   `generate` eager (KV cache) and compiled (static cache, compiled one-token step) against transformers
   `generate(do_sample=False)` with its default dynamic cache and with `cache_implementation="static"` (eager on CPU).
Variants of one measurement run side by side in interleaved rounds (each variant once, then the next, round after
round); the JSON holds every time, the medians, tokens/s and the ratio to the transformers default of the same row.
The models are trained last (the steps change the weights; speed does not depend on them).
"""
import argparse, copy, json, os, platform, statistics, time
from pathlib import Path
import torch
import torch.nn as nn

from lmtricks.bench import TrainBench
from lmtricks.core import autocast, resolve_precision
from lmtricks.decoding import generate, left_pad
from lmtricks.pretrained import pretrained

QUESTIONS = ["What is the capital of France?", "Write a haiku about the sea.", "How do plants make food?",
             "Name three prime numbers.", "Why is the sky blue?", "Give me a tip for learning to code.",
             "What does a CPU do?", "Translate 'good morning' into Spanish."]


def cpu_info() -> dict:
    flags, model = set(), platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == platform.processor(): model = line.split(":", 1)[1].strip()
            if line.startswith("flags"): flags = set(line.split(":", 1)[1].split()); break
    except OSError: pass
    return dict(model=model, amx_tile="amx_tile" in flags, avx512_bf16="avx512_bf16" in flags, avx2="avx2" in flags,
                logical_cpus=os.cpu_count(), threads=torch.get_num_threads())


def interleave(variants: dict, rounds: int, warmup=1, log=print) -> dict:
    """name -> fn() returning the number of tokens processed; warm each up (`warmup` calls, or a function of the name),
    then `rounds` rounds of one call each."""
    first = {}
    for name, fn in variants.items():
        for i in range(warmup(name) if callable(warmup) else warmup):
            t0 = time.perf_counter(); fn()
            if i == 0: first[name] = time.perf_counter() - t0
    times = {name: [] for name in variants}; tokens = {}
    for r in range(rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter(); tokens[name] = fn(); times[name].append(time.perf_counter() - t0)
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in variants))
    return {name: dict(tokens=tokens[name], seconds=times[name], median_s=statistics.median(times[name]),
                       tokens_per_s=tokens[name] / statistics.median(times[name]), first_call_s=first.get(name))
            for name in variants}


class HFLogits(nn.Module):
    "A transformers causal LM as `idx -> logits`, with the `cfg` and FLOP count that `TrainBench` reads."
    def __init__(self, hf, cfg, flops_per_token):
        super().__init__(); self.hf, self.cfg, self.flops_per_token = hf, cfg, flops_per_token
    def forward(self, idx): return self.hf(input_ids=idx, use_cache=False).logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/results/pretrained_cpu.json")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train-rounds", type=int, default=None, help="rounds of the training step (default --rounds)")
    ap.add_argument("--new", type=int, default=64, help="new tokens per decoded row")
    ap.add_argument("--only", nargs="*", default=["forward", "decode", "train"], choices=["forward", "decode", "train"])
    ap.add_argument("--precisions", nargs="*", default=["fp32", "auto"])
    a = ap.parse_args()
    t_start = time.time()
    import transformers
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model, tok, info = pretrained("smollm2-135m-instruct")
    src = Path(info["source"])
    hf = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    model.eval(); hf.eval()
    precs = {p: resolve_precision(p, "cpu") for p in a.precisions}
    res = dict(model="smollm2-135m-instruct", params=sum(p.numel() for p in model.parameters()), cpu=cpu_info(),
               torch=torch.__version__, transformers=transformers.__version__, python=platform.python_version(),
               precisions=precs, rounds=a.rounds, load_avg_start=os.getloadavg(), results={})
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    save = lambda: out.write_text(json.dumps(res, indent=1))
    print(f"cpu {res['cpu']}, torch {torch.__version__}, transformers {transformers.__version__}, precisions {precs}")
    V = model.cfg.vocab_size

    def with_prec(prec, fn):
        def run():
            with autocast("cpu", prec): return fn()
        return run

    def summarise(section, r, anchor_of):
        for name, v in r.items():
            v["ratio_vs_transformers"] = v["tokens_per_s"] / r[anchor_of(name)]["tokens_per_s"]
            fc = "" if v["first_call_s"] is None else f"  (first call {v['first_call_s']:.1f}s)"
            print(f"  {name:55s} {v['tokens_per_s']:10.1f} tok/s  x{v['ratio_vs_transformers']:.2f}{fc}")
        res["results"][section] = r; res[f"load_avg_after_{section}"] = os.getloadavg(); save()

    if "forward" in a.only:
        x = torch.randint(0, V, (8, 256), generator=torch.Generator().manual_seed(0))
        def lm_fwd():
            with torch.no_grad(): model(x).logits
            return x.numel()
        def hf_fwd():
            with torch.no_grad(): hf(input_ids=x, use_cache=False).logits
            return x.numel()
        variants = {}
        for p, rp in precs.items():
            variants[f"transformers forward, {rp}"] = with_prec(p, hf_fwd)
            variants[f"lmtricks forward, {rp}"] = with_prec(p, lm_fwd)
        print("forward, batch 8 x 256")
        summarise("forward_8x256", interleave(variants, a.rounds), lambda n: "transformers forward, " + n.split(", ")[-1])

    if "decode" in a.only:
        prompts = [tok.chat_ids([dict(role="user", content=q)], add_generation_prompt=True) for q in QUESTIONS]
        res["prompt_lengths"] = [len(p) for p in prompts]
        pad = tok.eos_id
        for B in (1, 8):
            ps = prompts[:B]
            ids, valid = left_pad(ps, pad_id=pad)
            n = a.new
            def lm_gen(compile, ps=ps):
                return sum(len(o) for o in generate(model, ps, n, compile=compile))
            def hf_gen(static, ids=ids, valid=valid):
                kw = dict(cache_implementation="static") if static else {}
                o = hf.generate(ids, attention_mask=valid.long(), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                pad_token_id=pad, **kw)
                return (o.shape[1] - ids.shape[1]) * o.shape[0]
            # the same tokens in fp32 (greedy, same weights): a check that both decode the same thing
            with torch.no_grad():
                a_lm = generate(model, ps, n)
                a_hf = hf.generate(ids, attention_mask=valid.long(), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                   pad_token_id=pad)[:, ids.shape[1]:].tolist()
            # transformers' min_new_tokens forbids the end-of-turn token, so compare the rows up to lmtricks' first one
            upto = [r.index(pad) if pad in r else len(r) for r in a_lm]
            same = sum(r1[:k] == r2[:k] for r1, r2, k in zip(a_lm, a_hf, upto)) / B
            res[f"decode_b{B}_fp32_rows_equal_before_eos"] = same; res[f"decode_b{B}_tokens_before_eos"] = upto
            variants = {}
            for p, rp in precs.items():
                variants[f"transformers generate, dynamic cache, {rp}"] = with_prec(p, lambda: hf_gen(False))
                variants[f"transformers generate, static cache, {rp}"] = with_prec(p, lambda: hf_gen(True))
                variants[f"lmtricks generate, KV cache, {rp}"] = with_prec(p, lambda: lm_gen(False))
                variants[f"lmtricks generate, compiled static cache, {rp}"] = with_prec(p, lambda: lm_gen(True))
            print(f"greedy decoding, batch {B}, prompts {[len(p) for p in ps]}, {n} new tokens "
                  f"(fp32 greedy rows equal to transformers' up to the end-of-turn token: {same:.0%}, {upto} tokens)")
            summarise(f"decode_b{B}", interleave(variants, a.rounds, warmup=lambda name: int("compiled" in name)),
                      lambda n: "transformers generate, dynamic cache, " + n.split(", ")[-1])

    if "train" in a.only:
        hf_wrapped = HFLogits(hf, model.cfg, model.flops_per_token)
        variants, benches = {}, {}
        for label, m in (("transformers", hf_wrapped), ("lmtricks", model)):
            base = TrainBench(m, 4, 256, precision="fp32")   # one model and optimizer, stepped in each precision
            for p, rp in precs.items():
                b = copy.copy(base); b.precision = p; b.times = {k: [] for k in base.times}
                benches[f"{label} train step, {rp}"] = b
        for name, b in benches.items():
            variants[name] = lambda b=b: (b.step(), b.inp.numel())[1]
        print("training step, batch 4 x 256, AdamW")
        for b in benches.values(): b.step(record=False)   # warm-up (allocates the optimizer state), not recorded
        r = interleave(variants, a.train_rounds or a.rounds, warmup=0)
        for name, b in benches.items():   # phases of the recorded steps (the warm-up step is not recorded)
            ph = b.result()
            r[name].update({k: ph[k] for k in ("forward_ms", "backward_ms", "optimizer_ms")})
        summarise("train_4x256", r, lambda n: "transformers train step, " + n.split(", ")[-1])

    res["load_avg_end"] = os.getloadavg(); res["total_s"] = time.time() - t_start; save()
    print(f"wrote {out} ({res['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
