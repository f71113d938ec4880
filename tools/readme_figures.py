"""Regenerate the README's figure lines from figures/*.json (each result's computed `finding`).

    python tools/readme_figures.py           # rewrite the block between <!-- figures:begin --> and <!-- figures:end -->
    python tools/readme_figures.py --check   # exit 1 if the README is not what the JSONs say

`lmtricks reproduce` does the same after regenerating figures; figures whose JSON has no `finding` (schema 1) keep
the text the README has."""
import sys
from pathlib import Path
from lmtricks.experiment import update_readme_figures

root = Path(__file__).resolve().parent.parent
check = "--check" in sys.argv[1:]
changed = update_readme_figures(root, check=check)
if check and changed:
    sys.exit("README.md's figure lines differ from figures/*.json: run `python tools/readme_figures.py` and commit")
print("README.md figure lines " + ("regenerated" if changed else "already match figures/*.json"))
