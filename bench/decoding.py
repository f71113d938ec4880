"""Decoding benchmark: greedy tokens/s with and without the KV cache, and the cost of contrastive decoding and
contrastive search relative to cached greedy. Random-weight models (speed does not depend on training).

    python bench/decoding.py [--new 256] [--batch 1] [--device cpu] [--repeats 3] [--layers 4 --d_model 256]
The no-cache row runs once (it is slow); the others keep the best of `--repeats` runs.
"""
import argparse, json, time
import torch
from lmtricks.model import GPT, GPTConfig
from lmtricks.decoding import generate, greedy_generate, contrastive_decoding, contrastive_search


def timed(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        t0 = time.perf_counter(); out = fn()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, sum(len(o) for o in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d_model", type=int, default=256)
    ap.add_argument("--amateur_layers", type=int, default=2)
    ap.add_argument("--amateur_d_model", type=int, default=64)
    ap.add_argument("--json", default=None, help="also write the table here")
    a = ap.parse_args()
    torch.manual_seed(0)
    bs = a.prompt + a.new
    expert = GPT(GPTConfig(vocab_size=260, block_size=bs, n_layer=a.layers, n_head=a.d_model // 64, d_model=a.d_model)).to(a.device).eval()
    amateur = GPT(GPTConfig(vocab_size=260, block_size=bs, n_layer=a.amateur_layers, n_head=2, d_model=a.amateur_d_model)).to(a.device).eval()
    ratio = amateur.num_params(False) / expert.num_params(False)
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 256, (a.prompt,), generator=g).tolist() for _ in range(a.batch)]
    n = a.new
    generate(expert, prompts, 8); greedy_generate(expert, prompts, n, compile=True); contrastive_decoding(expert, amateur, prompts, 8); contrastive_search(expert, prompts, 8)  # warm-up
    rows = {
        "greedy, no cache": lambda: generate(expert, prompts, n, use_cache=False),
        "greedy, KV cache": lambda: generate(expert, prompts, n),
        "greedy, KV cache, compiled": lambda: greedy_generate(expert, prompts, n, compile=True),
        "contrastive decoding (β=0.5)": lambda: contrastive_decoding(expert, amateur, prompts, n, 0.1, 0.5),
        "contrastive search (k=4)": lambda: contrastive_search(expert, prompts, n, 4, 0.6),
    }
    res = {}
    with torch.no_grad():
        for name, fn in rows.items():
            s, toks = timed(fn, 1 if "no cache" in name else a.repeats)
            res[name] = dict(seconds=s, tokens=toks, tok_per_s=toks / s)
    base = res["greedy, KV cache"]["tok_per_s"]
    print(f"device={a.device} batch={a.batch} prompt={a.prompt} new={n} expert={expert.num_params(False)/1e6:.2f}M "
          f"amateur={amateur.num_params(False)/1e6:.2f}M (ratio {ratio:.3f}) threads={torch.get_num_threads()}")
    print(f"| method | tokens/s | time vs cached greedy |\n|---|---:|---:|")
    for name, r in res.items():
        print(f"| {name} | {r['tok_per_s']:.0f} | {base / r['tok_per_s']:.2f}x |")
    print(f"KV cache speed-up (greedy): {res['greedy, KV cache']['tok_per_s'] / res['greedy, no cache']['tok_per_s']:.1f}x")
    if a.json:
        json.dump(dict(args=vars(a), amateur_ratio=ratio, results=res), open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
