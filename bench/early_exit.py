"""Early-exit (CALM) decoding benchmark: tokens/s of `early_exit_generate` when every token exits after k blocks,
for k = 1..n_layer, against full-depth greedy decoding with the KV cache (`generate`), side by side in one process,
in interleaved rounds (every variant once per round; each keeps its best round). Random-weight models: an exit
layer is forced by a confidence measure registered here (1 at layer k, 0 before), so the numbers are the
mechanism's cost at a given mean exit layer, independent of training. `softmax, λ=1` is the overhead of checking
the softmax measure at every layer without ever exiting.

    PYTHONPATH=. python bench/early_exit.py [--new 128] [--batch 1] [--layers 8 --d_model 256] [--rounds 3] [--json out.json]
"""
import argparse, json, os, time
import torch
from lmtricks.model import GPT, GPTConfig
from lmtricks.decoding import generate
from lmtricks.early_exit import CONFIDENCE, ExitPolicy, early_exit_generate

EXIT_AT = {"k": 1}
CONFIDENCE["bench: exit after k blocks"] = lambda v: torch.full((v.h.shape[0],), float(v.layer + 1 >= EXIT_AT["k"]), dtype=v.h.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--d_model", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the table here")
    a = ap.parse_args()
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=260, block_size=a.prompt + a.new, n_layer=a.layers, n_head=a.d_model // 64, d_model=a.d_model)).eval()
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 256, (a.prompt,), generator=g).tolist() for _ in range(a.batch)]
    forced = ExitPolicy("bench: exit after k blocks", 0.5)

    def exit_after(k):
        def fn():
            EXIT_AT["k"] = k
            out, ex = early_exit_generate(m, prompts, a.new, forced)
            assert all(e == min(k, a.layers) for row in ex for e in row), (k, ex[0][:5])
            return out
        return fn
    rows = {"full depth (generate, KV cache)": lambda: generate(m, prompts, a.new),
            "softmax, λ=1 (checks, never exits)": lambda: early_exit_generate(m, prompts, a.new, ExitPolicy("softmax", 1.0))[0]}
    rows |= {f"exit after {k} of {a.layers} blocks": exit_after(k) for k in sorted({1, 2, a.layers // 4, a.layers // 2, 3 * a.layers // 4, a.layers} - {0})}
    best = {k: float("inf") for k in rows}
    with torch.no_grad():
        for fn in rows.values(): fn()                                             # warm-up
        for _ in range(a.rounds):
            for name, fn in rows.items():
                t0 = time.perf_counter(); out = fn(); best[name] = min(best[name], time.perf_counter() - t0)
    n = a.batch * a.new
    base = n / best["full depth (generate, KV cache)"]
    print(f"batch={a.batch} prompt={a.prompt} new={a.new} model={a.layers}x{a.d_model} ({m.num_params(False) / 1e6:.2f}M) "
          f"threads={torch.get_num_threads()} load={os.getloadavg()[0]:.1f} best of {a.rounds} interleaved rounds")
    print("| variant | tokens/s | ÷ full depth |\n|---|---:|---:|")
    res = {}
    for name, s in best.items():
        res[name] = dict(seconds=s, tok_per_s=n / s, vs_full=n / s / base)
        print(f"| {name} | {n / s:.0f} | {n / s / base:.2f} |")
    if a.json: json.dump(dict(args=vars(a), load=os.getloadavg()[0], results=res), open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
