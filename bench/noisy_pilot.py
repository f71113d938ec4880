"""Pilot for nbs/experiments/losses_noisy.ipynb, run once before its arms: answer-only top-2 fine-tuning of SmolLM2 on AG News,
clean vs noisy (shuffled) labels, to choose the noise fraction and the declared effect. Validation split only.
Run: B=8 STEPS=32 LRS=1e-3,3e-3 F=0.5 python bench/noisy_pilot.py (needs LMTRICKS_DATA)."""
import time, random, sys, os
import numpy as np, torch
from lmtricks.core import autocast, resolve_precision
from lmtricks.pretrained import pretrained
from lmtricks.tasks import QA, QABatches, load_agnews, AGNEWS_LABELS
from lmtricks.finetune import freeze_bottom, cache_hidden, CachedBatches, TopBlocks
from lmtricks.losses import corrupt_answers
from lmtricks.train import TrainConfig, train
t00 = time.time()
PREC = resolve_precision("auto", "cpu")
model, tok, info = pretrained("smollm2-135m-instruct")
K = 2; LAYER = len(model.blocks) - K
print("labels", [tok.encode(l) for l in AGNEWS_LABELS], "eos", tok.eos_id)
TT = int(os.environ.get("TT", 32)); NTR = int(os.environ.get("NTR", 256)); STEPS = int(os.environ.get("STEPS", 32)); B = int(os.environ.get("B", 16))
def cut(ex, n):
    ids = tok.encode(ex.meta["text"])
    if len(ids) <= n: return ex
    short = tok.decode(ids[:n]).strip()
    return QA(ex.prompt.replace(ex.meta["text"], short), ex.answer, ex.task, ex.meta | {"text": short})
def draw(xs, n, key): xs = list(xs); random.Random(key).shuffle(xs); return xs[:n]
POOL = [cut(e, TT) for e in draw(load_agnews("train"), 2 * NTR, "pool")]
VAL = [cut(e, TT) for e in draw(load_agnews("val"), 200, "val")]
t0 = time.time()
pq = QABatches(POOL, tok, B, 512); vq = QABatches(VAL, tok, 50, 512)
PS = cache_hidden(model, pq.encoded, [LAYER], 16, PREC).streams[LAYER]
VS = cache_hidden(model, vq.encoded, [LAYER], 16, PREC).streams[LAYER]
print(f"cache {time.time()-t0:.1f}s, mean len {np.mean([h.shape[0] for h in PS]):.1f}", flush=True)
top = TopBlocks(freeze_bottom(model, K), K); INIT = {k: v.clone() for k, v in top.state_dict().items()}
LAB = torch.tensor([tok.encode(l)[0] for l in AGNEWS_LABELS])
def ao(top, batch):
    x = batch["hidden"].float(); pos = torch.arange(x.shape[1])
    for b in top.blocks: x = b(x, top.rotary, pos)
    keep = batch["answer_mask"].bool() & (batch["labels"] != -100)
    lg = top.head(top.norm(x[keep]))
    return torch.nn.functional.cross_entropy(lg.float(), batch["labels"][keep], reduction="sum"), keep.sum()
@torch.no_grad()
def evaluate():
    top.eval(); vd = CachedBatches(vq, VS); corr = []; nll = []; tot = 0
    for b in vd.eval_batches(50):
        with autocast("cpu", PREC): lg = top(hidden=b["hidden"]).logits.float()
        for j in range(lg.shape[0]):
            m = b["answer_mask"][j].bool() & (b["labels"][j] != -100)
            ls = lg[j][m].log_softmax(-1); y = b["labels"][j][m]
            nll.append(-ls.gather(1, y[:, None]).mean().item())
            first = ls[0, LAB]; corr.append(float(LAB[first.argmax()] == y[0]))
    top.train(); return np.mean(corr), np.mean(nll)
print("zero-shot val", evaluate(), flush=True)
for f in [0.0, float(os.environ.get("F", 0.5))]:
    for lr in [float(x) for x in os.environ.get("LRS", "1e-3").split(",")]:
        for seed in [0, 1]:
            idx = sorted(random.Random(f"tr/{seed}").sample(range(len(POOL)), NTR))
            tr = [POOL[i] for i in idx]
            if f: tr = corrupt_answers(tr, f, seed=seed, how="shuffle")
            qa = QABatches(tr, tok, B, 512, seed=seed)
            data = CachedBatches(qa, [PS[i] for i in idx])
            top.load_state_dict(INIT)
            cfg = TrainConfig(steps=STEPS, batch_size=B, lr=lr, warmup=STEPS // 10, schedule="cosine", min_lr_frac=0.1, weight_decay=0.0,
                              eval_every=0, ckpt_every=0, progress=False, precision=PREC, compile=False, seed=seed)
            t = time.time(); s = train(top, data, cfg, loss_fn=ao); dt = time.time() - t
            print(f"f={f} lr={lr} seed={seed}: val acc/nll {evaluate()}  train {dt:.1f}s {s['tokens']/dt:.0f} tok/s", flush=True)
print("total", time.time() - t00)
