"""Relabel the committed findings by the verdict rules of issue 28, from the JSONs alone (nothing is rerun, the PNGs and
every other field stay as they are): add a `review` field to each figures/*.json and write figures/REVIEW.md.

Rules (PROTOCOL.md section 4, `lmtricks.stats.verdicts`), as far as the stored numbers allow:
- the family is the figure's stored comparisons minus its positive control(s) (`CONTROLS` below, read off each
  finding's text); Holm over that family, from the paired t p-values recomputed from the stored per-seed differences;
- no paper direction is stored, so a comparison whose Holm-adjusted p < 0.05 is reported as a clear difference in its
  observed direction (*supported* if that is the paper's direction; *not supported* if opposite, for any δ > 0);
  otherwise *cannot tell*: no δ was declared, so nothing can be *not supported* for lack of an effect;
- a positive control that did not move (its 95% interval includes 0, or the finding says so) makes every claim
  *cannot tell*; a figure with no positive control among its comparisons or in its finding says so.
Run: PYTHONPATH=. python tools/relabel_findings.py"""
import json, re, sys
from pathlib import Path
from lmtricks.stats import paired_comparison, holm

root = Path(__file__).resolve().parent.parent
FIG = root / "figures"
REPLACED_BY = [(r"^losses", 30), (r"^(decoding_methods|decoding_stories|retrieval_knn|early_exit_)", 29),
               (r"^(memory|btm)$", 31), (r"^(curricula_|efficiency_|hierarchical$|baseline$|base$|retrieval$)", 36)]
# Positive controls as each finding names them: stored comparisons (arm, baseline[, figure]), or the finding's own
# statement when the control is not among the stored comparisons (moved: what the finding's numbers show).
CONTROLS = {
    "baseline": [("stdlib: 2x tokens", "stdlib: preset"), ("tinyshakespeare: 2x tokens", "tinyshakespeare: preset")],
    "btm": [("expert on its domain", "dense (mixture)")],
    "curricula_ordering": [("oracle: junk first", "random order")],
    "curricula_pruning": [("oracle: clean", "random")],
    "curricula_schedules": [(f"{s} @150", f"{s} @75") for s in ("constant", "cosine", "linear", "wsd", "cramming")],
    "curricula_skillit": {"text": "target-only training reaches the threshold in every seed", "moved": True},
    "decoding_methods": [("amateur greedy", "greedy")],
    "early_exit_layers": [("8L plain loss", "4L dense", "early_exit_quality")],
    "early_exit_quality": [("8L plain loss", "4L dense")],
    "efficiency_kv_ffn": [("MHA, ½ updates", "MHA")],
    "efficiency_packing": [("document mask, ½ updates", "document mask")],
    "hierarchical": {"text": "validation at the end vs at half the FLOPs: 7 of 8 arm/corpus pairs improve", "moved": True},
    "losses": [("short/plentiful: PLW 0", "short/scarce: PLW 0")],
    "losses_cpt": [("control: 25% in-domain", "plain CPT")],
    "losses_noise": [("clean, answer-only", "noisy, answer-only")],
    "losses_real": [(f"{t}: PLW 0", f"{t}: base model") for t in ("gsm8k short", "gsm8k long", "alpaca long")],
    "memory": {"text": "a repeated prefix: memory −0.0008 [−0.0022, +0.0006] bits/byte (within noise)", "moved": False},
    "retrieval": {"text": "the dense model's paired gain from never-seen facts to frequency 16: +0.354 [+0.302, +0.406]", "moved": True},
}

def recompute(c) -> tuple[float, str]:
    """The two-sided p of a stored comparison and how it was got: the paired t test over seeds from its per-seed
    differences (as `paired_comparison`); for a bootstrap over items, its McNemar p when stored, else a normal
    approximation from its stored 95% interval."""
    if "seeds" in c and "diffs" in c:
        d = dict(zip(c["seeds"], c["diffs"]))
        return paired_comparison({"a": d, "b": {s: 0.0 for s in d}}, "b", higher_is_better=True)[0]["p"], "paired t over seeds"
    if "p" in c: return float(c["p"]), "stored p"
    if "mcnemar" in c: return float(c["mcnemar"]["p"]), "McNemar p (stored)"
    from scipy import stats
    lo, hi = c["interval"]; se = (hi - lo) / (2 * stats.norm.ppf(0.975))
    return (float(2 * stats.norm.sf(abs(c["mean_diff"]) / se)) if se > 0 else float(c["mean_diff"] == 0)), "normal approx. from the 95% interval"

def moved(c): lo, hi = c["interval"]; return lo > 0 or hi < 0

def review(name, rec, all_recs):
    issue = next(i for pat, i in REPLACED_BY if re.search(pat, name))
    base = dict(verdict_rules="issue 28", status="superseded-pending", replaced_by_issue=issue)
    comps = rec.get("comparisons") or []
    if not comps:
        return dict(base, comparisons=[], note=f"no comparisons stored: nothing to relabel; replaced by issue {issue}")
    ctl = CONTROLS.get(name)
    key = lambda c: (c["arm"], c["baseline"])
    ctl_pairs = [t for t in ctl] if isinstance(ctl, list) else []
    controls, ctl_keys = [], set()
    for t in ctl_pairs:
        src = all_recs[t[2]] if len(t) > 2 else rec
        c = next(c for c in src["comparisons"] if key(c) == t[:2])
        controls.append(dict(arm=c["arm"], baseline=c["baseline"], figure=t[2] if len(t) > 2 else name,
                             interval=c["interval"], moved=moved(c)))
        if len(t) == 2: ctl_keys.add(t[:2])
    if isinstance(ctl, dict): control_moved, control_note = ctl["moved"], f"from the finding's text: {ctl['text']}"
    elif controls: control_moved, control_note = all(c["moved"] for c in controls), "stored comparison(s)"
    else: control_moved, control_note = True, "no positive control among the stored comparisons or in the finding"
    claims = [c for c in comps if key(c) not in ctl_keys]
    rows = []
    got = [recompute(c) for c in claims]; ps = [g[0] for g in got]
    for c, (p, how), ph in zip(claims, got, holm(ps) if ps else []):
        hib = c.get("higher_is_better", rec["metric"]["higher_is_better"] if rec.get("metric") else True)
        up = "better" if (c["mean_diff"] > 0) == hib else "worse"
        if c["verdict"] in ("better", "worse") and c["mean_diff"] != 0 and up != c["verdict"]: up = c["verdict"]   # its own metric's sense
        if not control_moved: new = "cannot tell (positive control did not move)"
        elif ph < 0.05: new = f"{up} (Holm p = {ph:.2g}): supported if the paper predicts {up}, else not supported"
        else: new = f"cannot tell (Holm p = {ph:.2g}; no δ declared)"
        rows.append(dict(arm=c["arm"], baseline=c["baseline"], old=c["verdict"], p=p, p_method=how, p_holm=ph, new=new))
    f = rec.get("finding", "")
    n_not = len(re.findall(r"not supported", f)); n_sup = len(re.findall(r"(?<!not )supported", f))
    explicit = bool(re.search(r"δ|smallest effect|excludes? (an? )?effect", f))
    notes = [f"Holm over the {len(claims)} stored non-control comparisons of this figure (a conservative family: some are "
             "secondary, not claims)", f"positive control: {control_note}; moved: {control_moved}"]
    if n_not: notes.append(f"the old finding says 'not supported' {n_not} time(s); with no declared δ stored "
                           + ("it names an excluded effect size: check by hand" if explicit else "these become 'cannot tell'"))
    if n_sup: notes.append(f"the old finding says 'supported' {n_sup} time(s): it stands only where the matching comparison "
                           "above is a clear difference in the paper's direction after Holm" + ("" if control_moved else
                           "; the positive control did not move, so it becomes 'cannot tell'"))
    notes.append(f"replaced by issue {issue}; the figure itself is kept until then")
    return dict(base, family_size=len(claims), control_moved=control_moved, control_source=control_note, controls=controls, comparisons=rows,
                old_finding_not_supported=n_not, old_finding_supported=n_sup, note="; ".join(notes))

def main():
    paths = sorted(FIG.glob("*.json"))
    recs = {p.stem: json.loads(p.read_text()) for p in paths}
    lines = ["# Review of the committed findings by the verdict rules of issue 28", "",
             "Made by `tools/relabel_findings.py` from the stored per-seed numbers of each `figures/*.json` (its `review` "
             "field); nothing was rerun and the figures are unchanged. *old*: the stored 95%-interval verdict of each "
             "comparison; *new*: Holm over the figure's non-control comparisons, no δ declared (so never *not supported* "
             "for lack of an effect), *cannot tell* whenever the positive control did not move. A *better*/*worse* is "
             "*supported* if it is the paper's direction, else *not supported*. Every figure here is superseded-pending: "
             "the issue named replaces it.", "",
             "| figure | replaced by | control moved | comparison | old | new |", "|---|---|---|---|---|---|"]
    for p in paths:
        rec = recs[p.stem]
        rv = review(p.stem, rec, recs)
        rec["review"] = rv
        p.write_text(json.dumps(rec, indent=2) + "\n")
        moved = rv.get("control_moved", "–")
        if str(rv.get("control_source", "")).startswith("no positive control"): moved = "none stored"
        if not rv["comparisons"]:
            what = "(only positive-control comparisons: no claim to relabel)" if rec.get("comparisons") else "(no comparisons)"
            lines.append(f"| {p.stem} | #{rv['replaced_by_issue']} | {moved} | {what} | – | – |")
        for r in rv["comparisons"]:
            lines.append(f"| {p.stem} | #{rv['replaced_by_issue']} | {moved} | {r['arm']} − {r['baseline']} "
                         f"| {r['old']} | {r['new']} |")
        if rv.get("old_finding_not_supported"):
            lines.append(f"| {p.stem} | | | old finding's 'not supported' ({rv['old_finding_not_supported']}×) | not supported | cannot tell (no δ declared) |")
    (FIG / "REVIEW.md").write_text("\n".join(lines) + "\n")
    print(f"reviewed {len(paths)} figures; table in {FIG / 'REVIEW.md'}")

if __name__ == "__main__": main()
