"""Time and peak memory of attention alone (forward + backward) against sequence length on CPU: eager vs SDPA.

Each (backend, T) runs in a fresh process, so its peak resident memory (ru_maxrss) is its own; the reported memory
is the peak minus the resident size just before the attention call (inputs already allocated).

    OMP_NUM_THREADS=1 python bench/attention_cpu.py [--lengths 256 512 1024 2048] [--batch 4 --heads 8 --dim 64]
"""
import argparse, json, resource, statistics, subprocess, sys, time
import torch

def one(backend: str, T: int, B: int, H: int, D: int, reps: int) -> dict:
    import lmtricks.attention  # noqa: F401
    from lmtricks.model import ATTENTION_BACKENDS
    torch.set_num_threads(1)
    fn = ATTENTION_BACKENDS[backend]
    q, k, v = (torch.randn(B, H, T, D, requires_grad=True) for _ in range(3))
    fn(q[:, :, :8], k[:, :, :8], v[:, :, :8], None).sum().backward()         # warm up kernels on a tiny input
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(q, k, v, None).sum().backward(); times.append(time.perf_counter() - t0)
        q.grad = k.grad = v.grad = None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(backend=backend, T=T, ms=1e3 * statistics.median(times), peak_mib=(peak - base) / 1024)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--backends", nargs="+", default=["eager", "sdpa"])
    ap.add_argument("--batch", type=int, default=4); ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--dim", type=int, default=64); ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--one", nargs=2, default=None); ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], int(a.one[1]), a.batch, a.heads, a.dim, a.reps))); return
    rows = []
    for T in a.lengths:
        for b in a.backends:
            out = subprocess.run([sys.executable, __file__, "--one", b, str(T), "--batch", str(a.batch), "--heads", str(a.heads),
                                  "--dim", str(a.dim), "--reps", str(a.reps)], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\nattention fwd+bwd on CPU, B={a.batch} H={a.heads} D={a.dim}, 1 thread, median of {a.reps}")
    print("| T | " + " | ".join(f"{b} ms | {b} peak MiB" for b in a.backends) + " | eager/sdpa time |")
    print("|---" * (2 * len(a.backends) + 2) + "|")
    for T in a.lengths:
        r = {x["backend"]: x for x in rows if x["T"] == T}
        ratio = r["eager"]["ms"] / r["sdpa"]["ms"] if {"eager", "sdpa"} <= set(r) else float("nan")
        print(f"| {T} | " + " | ".join(f"{r[b]['ms']:.0f} | {r[b]['peak_mib']:.0f}" for b in a.backends) + f" | {ratio:.2f}x |")
    if a.json:
        with open(a.json, "w") as f: json.dump(dict(args=vars(a), rows=rows), f, indent=1)

if __name__ == "__main__": main()
