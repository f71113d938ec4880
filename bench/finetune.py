"""Fine-tuning SmolLM2-135M-Instruct on this CPU: full, top-k from cached residual streams, and LoRA (lmtricks.finetune).

Part A, speed and memory: every arm trains a few AdamW updates of 4 x 256 tokens (GSM8K solutions cut to 256) through
`lmtricks.train.train`, in fp32 and in bf16 autocast (what precision="auto" picks on this AMX CPU); the median update
time gives tokens/s, and a thread samples the RSS (every 2 ms) for the peak above the RSS at the arm's start. Top-k arms
also time caching the streams of the same batch (one no-grad pass through the bottom n-k blocks).

Part B, learning: GSM8K short form (question -> final number, answer-only loss, batch 4, bf16 autocast, AdamW, 2 warmup
updates then constant LR, no weight decay). Each method trains from the base model for the same wall-clock budget
(evaluation time excluded) at each LR of its 3-point grid; the LR is chosen on the validation split (64 questions of
GSM8K's train file, disjoint from the training pool by question); the chosen LR is run again with the test NLL
(128 questions of the official test set) read along the way. The cached arms pay the caching of the pool (+ val and
test) once; it serves both k and all LRs, and its seconds are reported beside their curves.

    flock /tmp/lmtricks-cpu.lock env OMP_NUM_THREADS=2 LMTRICKS_DATA=/work/shared/data PYTHONPATH=. \\
        python bench/finetune.py --out bench/results/finetune_cpu.json
"""
import argparse, copy, ctypes, gc, json, os, platform, resource, statistics, threading, time
from pathlib import Path
import torch
from lmtricks.callbacks import Callback
from lmtricks.core import autocast, git_commit
from lmtricks.eval import answer_nll
from lmtricks.finetune import (CachedBatches, TopBlocks, add_lora, cache_hidden, cached_answer_nll, freeze_bottom,
                               trainable_params)
from lmtricks.losses import make_loss
from lmtricks.pretrained import pretrained
from lmtricks.tasks import QA, QABatches, collate_qa, encode_qa, load_gsm8k
from lmtricks.train import TrainConfig, train

BLOCK = 512
LOSS = make_loss("plw", w=0.0)   # answer-only
GRIDS = {"full": (3e-5, 1e-4, 3e-4), "top-2": (1e-4, 3e-4, 1e-3), "top-6": (1e-4, 3e-4, 1e-3), "top-10": (1e-4, 3e-4, 1e-3),
         "lora-16": (3e-4, 1e-3, 3e-3)}


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def trim():
    gc.collect()
    try: ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError: pass


class PeakRSS:
    "Peak RSS above the RSS at entry, sampled every 2 ms by a thread."
    def __enter__(self):
        trim(); self.start = self.peak = rss(); self.run = True
        def loop():
            while self.run: self.peak = max(self.peak, rss()); time.sleep(0.002)
        self.t = threading.Thread(target=loop, daemon=True); self.t.start(); return self
    def __exit__(self, *a):
        self.run = False; self.t.join(); self.peak = max(self.peak, rss()); self.delta_mb = (self.peak - self.start) / 2**20


class StepTimes(Callback):
    def on_step_start(self, st, lr): self.t = time.perf_counter()
    def on_step_end(self, st, rec): self.times.append(time.perf_counter() - self.t)
    def __init__(self): self.times = []


class Budget(Callback):
    "Stop after `seconds` of training (evaluation excluded); evaluate `test` at the given fractions, `val` at the end."
    def __init__(self, seconds, evaluate, fractions=(), val=None):
        self.seconds, self.evaluate, self.val, self.curve, self.eval_s = seconds, evaluate, val, [], 0.0
        self.marks = sorted(fractions)
    def on_train_start(self, st): self.t0 = time.perf_counter()
    def on_step_end(self, st, rec):
        t = time.perf_counter() - self.t0 - self.eval_s
        done = t >= self.seconds
        if self.marks and (t >= self.marks[0] * self.seconds or done):
            self.marks = [m for m in self.marks if m * self.seconds > t and not done]; e0 = time.perf_counter()
            self.curve.append(dict(seconds=t, updates=st.step, test_nll=self.evaluate("test")))
            self.eval_s += time.perf_counter() - e0
        if done:
            if self.val: e0 = time.perf_counter(); self.val_nll = self.evaluate("val"); self.eval_s += time.perf_counter() - e0
            self.updates, self.train_s = st.step, t
            st.stop("time budget")


class Fixed:
    "A data source whose every batch is the same collated examples (QABatches' interface)."
    def __init__(self, encoded, tok):
        self.encoded, self.tok, self.batch_size = encoded, tok, len(encoded)
    def indices(self, step, micro=0): return list(range(len(self.encoded)))
    def batch(self, step, micro=0): return collate_qa(self.encoded, self.tok.pad_id)


def short(examples): return [QA(e.prompt, e.meta["final"], "gsm8k_short", e.meta) for e in examples]


WORK = {}

def make_arm(base, method):
    "(the model to train, k or None): the base's weights in a working copy (reloaded in place; LoRA wraps a fresh copy)."
    if method.startswith("lora"): return add_lora(copy.deepcopy(base), r=int(method.split("-")[1])), None
    if "m" not in WORK: WORK["m"] = copy.deepcopy(base)
    m = WORK["m"]; m.load_state_dict(base.state_dict()); m.requires_grad_(True)
    if method == "full": return m, None
    k = int(method.split("-")[1]); return TopBlocks(freeze_bottom(m, k), k), k


def cfg(steps, lr, precision, batch=4):
    return TrainConfig(steps=steps, batch_size=batch, lr=lr, warmup=2, schedule="constant", weight_decay=0.0, eval_every=0,
                       ckpt_every=0, progress=False, precision=precision, compile=False)


def part_a(base, tok, train_long, methods, steps):
    n = len(base.blocks)
    enc = []
    for e in train_long:
        d = encode_qa(e, tok, 2048)
        if d["input_ids"].numel() >= 256: enc.append({k: (v[:256] if torch.is_tensor(v) else v) for k, v in d.items()})
        if len(enc) == 4: break
    src, rows = Fixed(enc, tok), []
    for precision in ("fp32", "bf16"):
        for method in methods:
            model, k = make_arm(base, method)
            row = dict(method=method, precision=precision, trainable=trainable_params(model))
            if k is not None:
                cache_hidden(base, enc, [n - k], batch_size=4, precision=precision)   # warm-up
                cache = cache_hidden(base, enc, [n - k], batch_size=4, precision=precision)
                row |= dict(cache_s=cache.seconds, cache_tok_s=cache.tokens / cache.seconds,
                            cache_mb_per_1k_tokens=cache.nbytes() / (cache.tokens / 1000) / 2**20)
                data = CachedBatches(src, cache.streams[n - k])
            else: data = src
            timer = StepTimes()
            with PeakRSS() as mem: train(model, data, cfg(steps, 1e-5, precision), loss_fn=LOSS, callbacks=[timer])
            step_s = statistics.median(timer.times[1:])
            row |= dict(step_s=step_s, tok_s=4 * 256 / step_s, steps_timed=len(timer.times) - 1, peak_rss_delta_mb=mem.delta_mb)
            rows.append(row); print(row, flush=True)
            del model, data; trim()
    return rows


def part_b(base, tok, pool, val, test, methods, seconds, fractions):
    n = len(base.blocks)
    qa = {s: QABatches(x, tok, batch_size=4 if s == "pool" else 32, block_size=BLOCK, seed=0)
          for s, x in dict(pool=pool, val=val, test=test).items()}
    sort = lambda xs: sorted(xs, key=lambda e: encode_qa(e, tok, BLOCK)["input_ids"].numel())
    sorted_ex = dict(val=sort(val), test=sort(test))
    ks = sorted({int(m.split("-")[1]) for m in methods if m.startswith("top")})
    layers = [n - k for k in ks]
    caches, cache_cost = {}, {}
    for s in ("pool", "val", "test"):
        if not layers: break
        c = cache_hidden(base, qa[s].encoded, layers, batch_size=16, precision="bf16")
        caches[s] = c; cache_cost[s] = dict(seconds=c.seconds, tokens=c.tokens, mb=c.nbytes() / 2**20)
        print("cache", s, cache_cost[s], flush=True)

    def evaluator(model, k):
        def ev(split):
            model.eval()
            try:
                if k is not None: return cached_answer_nll(model, CachedBatches(qa[split], caches[split].streams[n - k]), precision="bf16")
                with autocast("cpu", "bf16"): return answer_nll(model, sorted_ex[split], tok, BLOCK, batch_size=16)
            finally: model.train()
        return ev

    t0 = time.perf_counter()
    with autocast("cpu", "bf16"):
        ref = {s: answer_nll(base, sorted_ex[s], tok, BLOCK, batch_size=16) for s in ("val", "test")}
    eval_full_s = (time.perf_counter() - t0) / 2
    if layers:   # the cached evaluation of the untouched top equals the full model's
        ref["test_cached"] = cached_answer_nll(TopBlocks(base, ks[0]), CachedBatches(qa["test"], caches["test"].streams[n - ks[0]]), precision="bf16")
    print("base", ref, flush=True)
    out = dict(base_nll=ref, cache=cache_cost, eval_full_model_s=eval_full_s, grid={}, chosen={}, curves={})
    for method in methods:
        out["grid"][method] = []
        for lr in GRIDS[method]:
            model, k = make_arm(base, method)
            data = qa["pool"] if k is None else CachedBatches(qa["pool"], caches["pool"].streams[n - k])
            b = Budget(seconds, evaluator(model, k), val=True)
            train(model, data, cfg(100_000, lr, "bf16"), loss_fn=LOSS, callbacks=[b])
            out["grid"][method].append(dict(lr=lr, val_nll=b.val_nll, updates=b.updates, train_s=b.train_s))
            print(method, out["grid"][method][-1], flush=True)
            del model, data; trim()
        best = min(out["grid"][method], key=lambda r: r["val_nll"])
        out["chosen"][method] = dict(lr=best["lr"], at_edge=best["lr"] in (GRIDS[method][0], GRIDS[method][-1]))
        model, k = make_arm(base, method)
        data = qa["pool"] if k is None else CachedBatches(qa["pool"], caches["pool"].streams[n - k])
        b = Budget(seconds, evaluator(model, k), fractions=fractions)
        train(model, data, cfg(100_000, best["lr"], "bf16"), loss_fn=LOSS, callbacks=[b])
        out["curves"][method] = dict(lr=best["lr"], points=[dict(seconds=0.0, updates=0, test_nll=ref["test"])] + b.curve,
                                     updates=b.updates, train_s=b.train_s, updates_per_s=b.updates / b.train_s)
        print(method, out["curves"][method], flush=True)
        del model, data; trim()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/results/finetune_cpu.json")
    ap.add_argument("--speed-methods", default="full,top-2,top-6,top-10,lora-16")
    ap.add_argument("--learn-methods", default="full,top-2,top-6,lora-16")
    ap.add_argument("--speed-steps", type=int, default=3, help="updates per speed arm; the first is a warm-up")
    ap.add_argument("--seconds", type=float, default=10.0, help="training wall-clock per learning run")
    ap.add_argument("--fractions", default="0.33,0.67,1.0", help="where along the budget the test NLL is read")
    ap.add_argument("--n-pool", type=int, default=320)
    ap.add_argument("--n-val", type=int, default=64)
    ap.add_argument("--n-test", type=int, default=128)
    ap.add_argument("--skip", default="", help="'a' or 'b' to skip a part (for quick trials)")
    ap.add_argument("--report", default=None, help="print the README tables of this result JSON and exit")
    a = ap.parse_args()
    if a.report: return report(a.report)
    t_start = time.perf_counter()
    torch.manual_seed(0)
    base, tok, info = pretrained("smollm2-135m-instruct")
    base.requires_grad_(True)
    train_rows = load_gsm8k("train")
    val_ids = {e.meta["id"] for e in load_gsm8k("val")}
    assert not any(e.meta["id"] in val_ids for e in train_rows)
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    flags = set(Path("/proc/cpuinfo").read_text().split())
    res = dict(env=dict(cpu=cpu, flags=sorted(flags & {"amx_tile", "amx_bf16", "avx512_bf16", "avx2", "avx512f"}),
                        threads=torch.get_num_threads(), torch=torch.__version__, load_start=os.getloadavg()[0],
                        commit=git_commit()),
               args=vars(a), grids=GRIDS, model=dict(params=base.num_params(False), n_layer=len(base.blocks)))
    if "a" not in a.skip:
        res["speed"] = part_a(base, tok, train_rows[a.n_pool:], a.speed_methods.split(","), a.speed_steps)
    if "b" not in a.skip:
        res["learning"] = part_b(base, tok, short(train_rows[:a.n_pool]), short(load_gsm8k("val")[:a.n_val]),
                                 short(load_gsm8k("test")[:a.n_test]), a.learn_methods.split(","), a.seconds,
                                 [float(f) for f in a.fractions.split(",")])
    res["env"] |= dict(load_end=os.getloadavg()[0], maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["wall_s"] = time.perf_counter() - t_start
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(f"wrote {a.out} in {res['wall_s']:.0f} s")


def report(path):
    "The README's tables, from the result JSON."
    r = json.loads(Path(path).read_text())
    env, out = r["env"], []
    out.append(f"{env['cpu']} ({', '.join(env['flags'])}), {env['threads']} threads, torch {env['torch']}; load average "
               f"{env['load_start']:.1f} at the start, {env['load_end']:.1f} at the end; whole script {r['wall_s']:.0f} s; commit {env['commit'][:7]}.")
    if "speed" in r:
        sp = {(x["method"], x["precision"]): x for x in r["speed"]}
        full = sp[("full", "bf16")]["tok_s"]
        out += ["", "| method | trainable params | fp32 tokens/s | bf16 tokens/s | bf16 ÷ full bf16 | peak RSS Δ fp32 / bf16 (MiB) "
                "| caching tokens/s fp32 / bf16 | 8 min of bf16 training buys |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for m in dict.fromkeys(x["method"] for x in r["speed"]):
            a, b = sp[(m, "fp32")], sp[(m, "bf16")]
            cache = f"{a['cache_tok_s']:,.0f} / {b['cache_tok_s']:,.0f}" if "cache_tok_s" in a else "—"
            tok8 = b["tok_s"] * 480
            out.append(f"| {m} | {a['trainable'] / 1e6:.1f}M | {a['tok_s']:,.0f} | {b['tok_s']:,.0f} | {b['tok_s'] / full:.2f}× "
                       f"| {a['peak_rss_delta_mb']:,.0f} / {b['peak_rss_delta_mb']:,.0f} | {cache} | {tok8 / 1e3:,.0f}k tokens, {tok8 / 1024:,.0f} updates |")
    if "learning" in r:
        l = r["learning"]; frac = r["args"]["fractions"]
        c = l["cache"]
        out += ["", f"Base model: held-out answer NLL {l['base_nll']['test']:.3f} nats/token on test ({l['base_nll'].get('test_cached', float('nan')):.3f} "
                f"through the cached streams), {l['base_nll']['val']:.3f} on val. One-time caching (bf16 bottom, one pass that stores the stream for every k): "
                + ", ".join(f"{s} {v['tokens']:,} tokens in {v['seconds']:.1f} s ({v['mb']:.0f} MiB fp32)" for s, v in c.items())
                + f"; evaluating the full model on val + test took {l['eval_full_model_s']:.1f} s per split on average.",
                "", f"| method | val NLL at LR grid | chosen LR | test NLL (seconds, updates) at {frac} of {r['args']['seconds']:.0f} s | updates/s |",
                "|---|---|---:|---|---:|"]
        for m, cur in l["curves"].items():
            grid = ", ".join(f"{g['lr']:g}: {g['val_nll']:.2f}" for g in l["grid"][m])
            pts = "; ".join(f"{p['test_nll']:.2f} ({p['seconds']:.0f} s, {p['updates']})" for p in cur["points"][1:])
            edge = " (edge)" if l["chosen"][m]["at_edge"] else ""
            out.append(f"| {m} | {grid} | {cur['lr']:g}{edge} | {pts} | {cur['updates_per_s']:.2f} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
