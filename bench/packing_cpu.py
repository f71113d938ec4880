"""Useful (non-pad) training tokens per second, pad-to-longest vs best-fit-decreasing packing, on CPU.

Default configuration (the foundation's bench configuration): GPT n_layer=4, n_head=4, d_model=256, byte vocab,
seq_len 256, batch 16 rows; documents = `[bos] + prompt + [sep] + answer + [eos]` of Alpaca ($LMTRICKS_DATA), cut
into chunks of at most seq_len tokens. Padded and packed steps are interleaved (ABAB...), so both see the same
machine load. Each step is a full AdamW training step (forward, backward, update).

    OMP_NUM_THREADS=1 LMTRICKS_DATA=/work/shared/data python bench/packing_cpu.py [--steps 12] [--threads 1] [--scale 4]

`--scale 4` keeps the first quarter of each prompt and answer: document lengths like a ~4-bytes-per-token subword
tokenizer's, with the same byte-vocab model (byte-level Alpaca documents are almost all longer than 256 tokens).
"""
import argparse, json, os, statistics, sys, time
import torch
from lmtricks.data import ByteTokenizer
from lmtricks.model import GPT, GPTConfig
from lmtricks.packing import PackedBatches, PaddedBatches, padding_stats
from lmtricks.train import TrainConfig, make_optimizer, next_token_loss
import lmtricks.attention  # noqa: F401  (registers the backends; 'sdpa' then understands DocumentMask)

def documents(name: str, tok, scale: float = 1.0):
    "Token sequences of dataset `name`; with scale > 1 each text keeps only its first len/scale bytes (a subword-like length)."
    cut = lambda ids: ids[:max(1, round(len(ids) / scale))]
    from lmtricks.tasks import load_alpaca, load_gsm8k, make_task
    if name in ("alpaca", "gsm8k") and not os.environ.get("LMTRICKS_DATA"):
        print(f"LMTRICKS_DATA is not set: using the synthetic 'arithmetic' task instead of {name}", file=sys.stderr)
        name = "synthetic"
    ex = load_alpaca() if name == "alpaca" else load_gsm8k() if name == "gsm8k" else make_task("arithmetic", 2000, seed=0)
    return [[tok.bos_id] + cut(tok.encode(e.prompt)) + [tok.sep_id] + cut(tok.encode(e.answer)) + [tok.eos_id] for e in ex], name

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="alpaca"); ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2); ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq", type=int, default=256); ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--n_layer", type=int, default=4); ap.add_argument("--d_model", type=int, default=256)
    ap.add_argument("--mask", default="document", help="packed attention mask: document | dense")
    ap.add_argument("--scale", type=float, default=1.0, help="bytes per 'token': 4 keeps 1/4 of each text, ~GPT-2 BPE lengths")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = ByteTokenizer()
    docs, name = documents(a.data, tok, a.scale)
    st = padding_stats([len(d) for d in docs], a.seq, a.batch)
    srcs = {"padded": PaddedBatches(docs, a.batch, a.seq, tok.pad_id, seed=0),
            "packed": PackedBatches(docs, a.batch, a.seq, tok.pad_id, seed=0, mask=a.mask)}
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=a.seq, n_layer=a.n_layer, n_head=4, d_model=a.d_model)
    models, opts = {}, {}
    for k in srcs:
        torch.manual_seed(0); models[k] = GPT(cfg); opts[k] = make_optimizer(models[k], TrainConfig())
    res = {k: dict(time=[], real=0, slots=0) for k in srcs}
    for step in range(a.warmup + a.steps):
        for k, src in srcs.items():
            b = src.batch(step)
            t0 = time.perf_counter()
            s, n = next_token_loss(models[k], b); (s / n).backward(); opts[k].step(); opts[k].zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            if step >= a.warmup:
                res[k]["time"].append(dt); res[k]["real"] += b["n_real"]; res[k]["slots"] += b["input_ids"].numel()
    rows = {}
    for k, r in res.items():
        T = sum(r["time"])
        rows[k] = dict(real_tok_s=r["real"] / T, non_pad=r["real"] / r["slots"], ms_per_step=1e3 * statistics.median(r["time"]),
                       real_tok_per_step=r["real"] / a.steps)
    ratio = rows["packed"]["real_tok_s"] / rows["padded"]["real_tok_s"]
    print(f"\ndata={name} scale={a.scale} (chunks: {st['n_docs']}, mean {st['mean_len']:.0f} tokens)  seq={a.seq} batch={a.batch} "
          f"n_layer={a.n_layer} d_model={a.d_model} threads={a.threads} steps={a.steps} packed mask={a.mask}")
    print(f"| batching | non-pad tokens | real tokens/step | ms/step (median) | useful tokens/s |")
    print(f"|---|---|---|---|---|")
    for k, r in rows.items():
        print(f"| {k} | {r['non_pad']:.1%} | {r['real_tok_per_step']:.0f} | {r['ms_per_step']:.0f} | {r['real_tok_s']:.0f} |")
    print(f"packed / padded useful-token throughput: {ratio:.2f}x  (dataset-level non-pad: longest {st['longest']:.1%}, packed {st['packed']:.1%})")
    if a.json:
        with open(a.json, "w") as f: json.dump(dict(args=vars(a), data=name, stats=st, rows=rows, ratio=ratio), f, indent=1)

if __name__ == "__main__": main()
