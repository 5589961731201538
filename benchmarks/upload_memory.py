"""Peak memory and time of converting one large upload (`resnet_viz.views.features.image_from_bytes`).

Each case runs in a fresh child process, which reports its resident memory before the call
and its peak (ru_maxrss) after it; the difference is the call's peak extra memory. The
reference, measured in the same run, is the size of the decoded image held once as 8-bit
RGB (width × height × 3 bytes): a converter that decodes the whole image and copies it
a few times needs several times that, one that downscales while decoding needs less.

    python benchmarks/upload_memory.py [--megapixels 39.9] [--cases jpeg,png,png-rgb]

The images are made here (strokes on a plain background, like a photographed digit), sized
just under the library's 40-megapixel limit, and stay under its 20 MB file limit.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_image(kind: str, megapixels: float) -> bytes:
    """A `kind` ('jpeg', 'png' grayscale, 'png-rgb') image of about `megapixels`, 4:3."""
    from PIL import Image, ImageDraw

    w = int(math.sqrt(megapixels * 1e6 * 4 / 3))
    h = int(megapixels * 1e6 // w)
    mode = "L" if kind == "png" else "RGB"
    img = Image.new(mode, (w, h), 235 if mode == "L" else (235, 230, 220))
    draw = ImageDraw.Draw(img)
    ink = 20 if mode == "L" else (20, 20, 30)
    draw.line([(w * 0.45, h * 0.2), (w * 0.55, h * 0.15), (w * 0.55, h * 0.85)], fill=ink, width=max(w // 40, 1))
    buf = io.BytesIO()
    img.save(buf, format="JPEG" if kind == "jpeg" else "PNG", quality=90)
    return buf.getvalue()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(path: str) -> None:
    """Measure one call in this (fresh) process; prints one JSON line."""
    import torch

    torch.set_num_threads(1)
    from resnet_viz.data import load_dataset
    from resnet_viz.views.features import image_from_bytes

    data = load_dataset("digits")
    with open(path, "rb") as f:
        blob = f.read()
    image_from_bytes(make_image("png", 0.01), data)  # warm up lazy imports
    before = _rss_bytes()
    start = time.perf_counter()
    up = image_from_bytes(blob, data, invert=True, crop=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    after = _rss_bytes()
    print(json.dumps({"before": before, "peak": peak, "after": after, "seconds": seconds,
                      "steps": up.steps[0]}))


def main() -> None:
    """Make each image, measure its conversion in a fresh child process, print one line per case."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=39.9)
    ap.add_argument("--cases", default="jpeg,png,png-rgb")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.cases.split(","):
            blob = make_image(kind, args.megapixels)
            path = os.path.join(tmp, f"upload.{kind}")
            with open(path, "wb") as f:
                f.write(blob)
            out = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True,
                                 env=env, cwd=ROOT)
            if out.returncode:
                print(f"{kind}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            from PIL import Image

            w, h = Image.open(io.BytesIO(blob)).size
            reference = w * h * 3
            extra = r["peak"] - r["before"]
            print(f"{kind:8s} {w}×{h} ({w * h / 1e6:.1f} MP, {len(blob) / 1024**2:.1f} MB file): "
                  f"peak +{extra / 1024**2:.0f} MB ({extra / reference:.2f}× the decoded RGB image, "
                  f"{reference / 1024**2:.0f} MB), kept afterwards +{(r['after'] - r['before']) / 1024**2:.0f} MB, "
                  f"{r['seconds']:.2f} s")


if __name__ == "__main__":
    main()
