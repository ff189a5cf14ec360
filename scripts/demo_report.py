#!/usr/bin/python3
"""make demo's report: the arms' table and the gaps against outer steps.

    scripts/demo_report.py DIR [--seeds 5] [--bin build/rel/bin/distill]

DIR is a `distill krrst --export-every E` output (teacher.dstl,
initial.dstl, distilled.dstl and distilled_STEP.dstl snapshots).  Each
snapshot is evaluated as arm A by `distill transfer` (10-label linear
probe on classes 5-9, paired seeds), A0, B and C once; the table goes to
DIR/report.md and stdout, the curve of A - A0 and A - B against steps to
DIR/gaps.png (blue: A - A0, red: A - B, grey band: the pooled std of the
arms over the seeds, black: zero; x from step 0 to the last, y from -1 to
+3 points).  The last line on stdout is one JSON object."""
import argparse
import glob
import json
import os
import re
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "python"))

import distill  # noqa: E402
from cli_json import pooled, run  # noqa: E402  (beside this script)


def transfer(binary, d, seeds, arms, set_path=None):
    args = ["transfer", "--dir", d, "--arms", arms, "--seeds", seeds, "--finetune-steps", 0]
    return run(binary, "demo_report", *args, *(["--set", set_path] if set_path else []))


def snapshots(d):
    found = []
    for p in glob.glob(os.path.join(d, "distilled_*.dstl")):
        m = re.search(r"distilled_(\d+)\.dstl$", p)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def draw_line(img, x0, y0, x1, y1, rgb, width=2):
    """A straight line on img (3, H, W), by dense sampling."""
    steps = int(max(abs(x1 - x0), abs(y1 - y0)) * 2) + 1
    for t in np.linspace(0.0, 1.0, steps):
        x, y = int(round(x0 + (x1 - x0) * t)), int(round(y0 + (y1 - y0) * t))
        for c in range(3):
            img[c, max(y - width // 2, 0):y + width - width // 2, max(x - width // 2, 0):x + width - width // 2] = rgb[c]


def plot(path, steps, gaps_a0, gaps_b, band, ctx):
    H, W, pad = 240, 400, 20
    img = np.ones((3, H, W), np.float32)
    lo, hi, last = -1.0, 3.0, max(steps)

    def px(step, gap):
        x = pad + (W - 2 * pad) * step / last
        y = pad + (H - 2 * pad) * (hi - min(max(gap, lo), hi)) / (hi - lo)
        return x, y

    _, yb0 = px(0, band)
    _, yb1 = px(0, 0.0)
    img[:, int(yb0):int(yb1) + 1, pad:W - pad] = 0.85  # the spread: a gap must clear this band
    for g in range(int(lo), int(hi) + 1):  # one grid line a point
        _, y = px(0, g)
        draw_line(img, pad, y, W - pad, y, (0.0, 0.0, 0.0) if g == 0 else (0.7, 0.7, 0.7), 1)
    for gaps, rgb in ((gaps_a0, (0.1, 0.3, 0.9)), (gaps_b, (0.85, 0.1, 0.1))):
        pts = [px(s, g) for s, g in zip(steps, gaps)]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            draw_line(img, x0, y0, x1, y1, rgb, 2)
        for x, y in pts:
            draw_line(img, x - 3, y, x + 3, y, rgb, 5)
    distill.png_save_grid(ctx, path, img.reshape(1, -1), (3, H, W), cols=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "rel", "bin", "distill"))
    args = ap.parse_args()
    d = args.dir
    base = transfer(args.bin, d, args.seeds, "A,A0,B,C")
    a0, b = base["lp10_A0"], base["lp10_B"]
    curve = [(0, a0)]  # at step 0 the set is A0
    snaps = snapshots(d)
    if not snaps:
        raise SystemExit("demo_report: no distilled_STEP.dstl in %s (distill krrst --export-every)" % d)
    for step, p in snaps[:-1]:
        js = transfer(args.bin, d, args.seeds, "A", p)
        curve.append((step, js["lp10_A"]))
    curve.append((snaps[-1][0], base["lp10_A"]))  # the last snapshot is the final set
    band = 100 * pooled(base["lp10_A_std"], base["lp10_A0_std"], base["lp10_B_std"])
    with distill.Context(seed=0) as ctx:
        plot(os.path.join(d, "gaps.png"), [s for s, _ in curve], [100 * (a - a0) for _, a in curve],
             [100 * (a - b) for _, a in curve], band, ctx)
    rows = [("A", "distilled", base["lp10_A"], base["lp10_A_std"]),
            ("A0", "its initial real subset + teacher targets", a0, base["lp10_A0_std"]),
            ("B", "other real images + teacher targets", b, base["lp10_B_std"]),
            ("C", "none (no pre-training)", base["lp10_C"], base["lp10_C_std"])]
    lines = ["| arm | pre-training set | linear probe, 10 labels (%d seeds) |" % args.seeds, "|---|---|---|"]
    lines += ["| %s | %s | %.2f ± %.2f |" % (k, what, 100 * m, 100 * s) for k, what, m, s in rows]
    lines += ["", "| steps | A - A0 | A - B |", "|---|---|---|"]
    lines += ["| %d | %+.2f | %+.2f |" % (s, 100 * (a - a0), 100 * (a - b)) for s, a in curve]
    text = "\n".join(lines)
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    gap_a0, gap_b = 100 * (base["lp10_A"] - a0), 100 * (base["lp10_A"] - b)
    print(json.dumps({"demo": "krrst", "lp10_A": base["lp10_A"], "lp10_A0": a0, "lp10_B": b, "lp10_C": base["lp10_C"],
                      "gap_A0": round(gap_a0, 2), "gap_B": round(gap_b, 2),
                      "pooled_sd_A0": round(100 * pooled(base["lp10_A_std"], base["lp10_A0_std"]), 2),
                      "pooled_sd_B": round(100 * pooled(base["lp10_A_std"], base["lp10_B_std"]), 2),
                      "curve": [[s, round(100 * (a - a0), 2), round(100 * (a - b), 2)] for s, a in curve],
                      "plot": os.path.join(d, "gaps.png")}))


if __name__ == "__main__":
    main()
