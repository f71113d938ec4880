"Run nbdev-test over every notebook, then print one summary line that CI can read."
import subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nbs = sorted(p for p in (root / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
t0 = time.time()
r = subprocess.run([str(Path(sys.executable).parent / "nbdev-test"), "--timing", "--n-workers", "2"], cwd=root)
n = len(nbs)
print(f"notebooks: {n if r.returncode == 0 else 0} passed, {0 if r.returncode == 0 else 'some'} failed"
      if r.returncode == 0 else f"notebooks: nbdev-test failed (exit {r.returncode}); see the names above")
print(f"wall time {time.time() - t0:.0f}s")
sys.exit(r.returncode)
