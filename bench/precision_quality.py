"""Same quality in bf16 as in fp32: the quick baseline (lmtricks.experiment.PRESETS["quick"], a GPT on the preset's
data) trained from the same seeds in fp32 and in bf16 autocast; validation loss per seed, mean ± std, and the paired
difference bf16 − fp32 with its 95% interval (issue 12's "same quality" target).

    python bench/precision_quality.py --out bench/results/precision_quality_cpu.json [--seeds 0 1 2] [--device cpu]

Runs go to a scratch run cache (LMTRICKS_RUNS, else a temporary folder), never to the shared one.
Quick preset on 2 CPU cores: about 1–2 minutes a run; on a GPU seconds.
"""
import argparse, json, os, sys, tempfile, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True); ap.add_argument("--preset", default="quick")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2]); ap.add_argument("--device", default=None)
    ap.add_argument("--compile", action="store_true", help="also compile both arms (default: the preset's setting)")
    args = ap.parse_args(argv)
    os.environ.setdefault("LMTRICKS_RUNS", tempfile.mkdtemp(prefix="lmtricks-precision-"))
    import torch
    from lmtricks.experiment import get_preset, with_seed, run_lm, paired_comparison, describe_comparison, fmt_mean_std, mean_std
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    vals, runs, t0 = {}, {}, time.time()
    for seed in args.seeds:                      # interleaved: a drift of the machine hits both arms alike
        for prec in ("fp32", "bf16"):
            over = [f"train.precision={prec}"] + (["train.compile=true"] if args.compile else [])
            s = run_lm(with_seed(get_preset(args.preset, over), seed), device=dev)
            vals.setdefault(prec, {})[seed] = s["val_loss"]
            runs.setdefault(prec, {})[seed] = {k: s.get(k) for k in ("val_loss", "final_loss", "updates", "tokens", "precision", "wall_time_s")}
            print(f"seed {seed} {prec}: val_loss {s['val_loss']:.4f}", flush=True)
    c = paired_comparison(vals, baseline="fp32", higher_is_better=False)[0]
    (m32, s32), (m16, s16) = mean_std(vals["fp32"]), mean_std(vals["bf16"])
    res = dict(preset=args.preset, device=dev, card=torch.cuda.get_device_name() if dev == "cuda" else "cpu",
               torch=torch.__version__, seeds=args.seeds, val_loss=vals, runs=runs, comparison=c,
               fp32=fmt_mean_std(vals["fp32"], 4), bf16=fmt_mean_std(vals["bf16"], 4),
               same_quality=abs(m16 - m32) <= max(s16, s32),   # issue 12: the means end within each other's spread
               wall_time_s=time.time() - t0)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f: json.dump(res, f, indent=1, default=str)
    print(f"\n| precision | val loss ({len(args.seeds)} seeds, {res['card']}) |\n|---|---|\n| fp32 | {res['fp32']} |\n| bf16 | {res['bf16']} |")
    print(describe_comparison(c, 4, "nats"))

if __name__ == "__main__": sys.exit(main())
