"""Draws the table of `research/objective-frontier.sh` (the `adain eval` table it prints) as a
figure: LPIPS content distance against AlexNet style distance, one point per method, the
optimisation snapshots joined in step order, and issue 10's target region (LPIPS <= 0.60,
AlexNet style <= Magenta's). A filled marker also meets the other two targets (colour below
Magenta's, VGG style <= 2.41); a hollow one does not.

Usage: .venv/bin/python research/frontier-figure.py EVAL_OUTPUT.txt OUT.png
"""

import re
import sys

from PIL import Image, ImageDraw, ImageFont

W, H, M = 900, 620, 70
VGG_BOUND, LPIPS_BOUND = 2.41, 0.60


def parse(path):
    rows = {}
    for line in open(path):
        m = re.match(r"^(\S.*?)\s+(-?[\d.]+|NaN)\s+(-?[\d.]+|NaN)\s+(-?[\d.]+|NaN)\s+(-?[\d.]+|NaN)\s+(-?[\d.]+|NaN)\s*$", line)
        if m:
            rows[m.group(1)] = dict(zip(["vgg", "content", "lpips", "colour", "alexnet"], map(float, m.groups()[1:])))
    return rows


def main():
    rows = parse(sys.argv[1])
    magenta = rows["magenta"]

    def meets(r):
        """The two targets the axes do not show: colour below Magenta's, VGG style <= 2.41."""
        return r["colour"] < magenta["colour"] and r["vgg"] <= VGG_BOUND

    xs = [r["alexnet"] for r in rows.values()]
    x0, x1 = min(xs) - 0.3, max(xs) + 0.9
    y0, y1 = 0.0, max(r["lpips"] for r in rows.values()) + 0.05
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(14)
    px = lambda x: M + (x - x0) / (x1 - x0) * (W - 2 * M)  # noqa: E731
    py = lambda y: H - M - (y - y0) / (y1 - y0) * (H - 2 * M)  # noqa: E731
    d.rectangle([px(x0), py(LPIPS_BOUND), px(magenta["alexnet"]), py(y0)], fill=(225, 245, 225))
    d.rectangle([M, M, W - M, H - M], outline="black")
    for k in range(int(x0) + 1, int(x1) + 1):
        d.line([px(k), H - M, px(k), H - M + 5], fill="black")
        d.text((px(k) - 4, H - M + 8), str(k), fill="black", font=font)
    for k in range(0, int(y1 * 10) + 1):
        d.line([M - 5, py(k / 10), M, py(k / 10)], fill="black")
        d.text((M - 35, py(k / 10) - 7), f"{k / 10:.1f}", fill="black", font=font)
    d.text((W / 2 - 170, H - 30), "AlexNet style distance to the painting (lower: more style)", fill="black", font=font)
    d.text((10, 20), "LPIPS to the photo (lower: more content)", fill="black", font=font)
    d.text((px(x0) + 6, py(LPIPS_BOUND) + 4), "issue 10's targets", fill=(40, 120, 40), font=font)
    colours = {"colour": (200, 60, 40), "adain": (40, 90, 200)}
    for variant, colour in colours.items():
        snaps = sorted(((int(n.split("-")[1]), r) for n, r in rows.items() if re.fullmatch(f"{variant}-\\d+", n)))
        pts = [(px(r["alexnet"]), py(r["lpips"])) for _, r in snaps]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for (step, r), (x, y) in zip(snaps, pts):
            d.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colour if meets(r) else "white", outline=colour, width=2)
            d.text((x + 7, y - 16), str(step), fill=colour, font=font)
    legend = [
        ("optimised from the colour transfer (steps)", colours["colour"]),
        ("optimised from the photo (steps)", colours["adain"]),
    ]
    for k, (text, colour) in enumerate(legend):
        d.line([W - M - 330, M + 18 + 20 * k, W - M - 305, M + 18 + 20 * k], fill=colour, width=2)
        d.text((W - M - 298, M + 10 + 20 * k), text, fill=colour, font=font)
    d.text((W - M - 330, M + 50), "filled: colour < Magenta's and VGG style <= 2.41", fill="black", font=font)
    for name, r in rows.items():
        if re.fullmatch(r"(colour|adain)-\d+", name):
            continue
        x, y = px(r["alexnet"]), py(r["lpips"])
        d.rectangle([x - 6, y - 6, x + 6, y + 6], fill="black" if meets(r) else "white", outline="black", width=2)
        d.text((x + 9, y - 7), name, fill="black", font=font)
    img.save(sys.argv[2])


if __name__ == "__main__":
    main()
