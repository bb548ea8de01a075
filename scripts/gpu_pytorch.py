#!/usr/bin/env python3
"""The paper's Table-1 cases in plain PyTorch eager, the paper's GPU protocol.

Conv, GConv (16 groups), DWConv and PConv (r = 1/4, the authors' split/conv/cat forward),
10 stacked 3x3 layers on the four stage maps; batch 32 on CUDA (cudnn.benchmark on),
50 warm-up passes, then 200 timed passes between two torch.cuda.synchronize() calls:
throughput = 200 * batch / elapsed, GFLOPS = throughput * multiply-adds (the paper's
FLOPs); at each --dtype (f32, bf16, f16: model and input cast, as flopsbench's tch rows
are). On CPU (the dry run of scripts/gpu-check) the same loop times batch 1 on 1
thread. Writes CSV to --out; used by scripts/gpu-check beside flopsbench's own rows.
With --against (a flopsbench results.csv of the same cases), each case's tch throughput
over PyTorch's is added (`tch_ratio`: flopsbench's host time, which synchronises after
every call; `tch_gpu_ratio`: its GPU time between CUDA events, closer to this loop's
200 pipelined passes, where the rows have one) and their geometric means printed.
"""

import argparse
import csv
import math
import sys
import time

import torch
from torch import nn

SHAPES = [(96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7)]
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


class PConv(nn.Module):
    def __init__(self, dim, n_div=4):
        super().__init__()
        self.dim_conv3 = dim // n_div
        self.dim_untouched = dim - self.dim_conv3
        self.partial_conv3 = nn.Conv2d(self.dim_conv3, self.dim_conv3, 3, 1, 1, bias=False)

    def forward(self, x):
        x1, x2 = torch.split(x, [self.dim_conv3, self.dim_untouched], dim=1)
        return torch.cat((self.partial_conv3(x1), x2), 1)


def stack(kind, c):
    def layer():
        if kind == "pconv":
            return PConv(c)
        groups = {"gconv": 16, "dwconv": c}.get(kind, 1)
        return nn.Conv2d(c, c, 3, 1, 1, groups=groups, bias=False)
    return nn.Sequential(*[layer() for _ in range(10)]).eval()


def macs(kind, c, h, w):
    per = {"conv": c * c, "gconv": c * c // 16, "dwconv": c, "pconv": (c // 4) ** 2}[kind]
    return 10 * per * 9 * h * w


def tch_rows(path, batch):
    """flopsbench's ok tch rows of `path` at `batch`, warm caches, by (operator, shape,
    dtype): their throughput from the host's time and, where they have one, from the
    GPU's."""
    with open(path, newline="") as f:
        return {
            (r["name"], r["shape"], r["dtype"]): (
                float(r["throughput_per_s"]),
                int(r["batch"]) / float(r["gpu_median_ms"]) * 1e3 if r.get("gpu_median_ms") else None,
            )
            for r in csv.DictReader(f)
            if r["backend"] == "tch" and r["status"] == "ok" and r.get("l2_flush") != "true"
            and int(r["batch"]) == batch
        }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="f32", help="comma list of f32, bf16, f16")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--against", help="a flopsbench results.csv of the same cases (tch rows)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    dtypes = args.dtype.split(",")
    for d in dtypes:
        if d not in DTYPES:
            sys.exit(f"gpu_pytorch: --dtype {d}: one of {', '.join(DTYPES)}")
    cuda = args.device.startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            sys.exit("gpu_pytorch: torch sees no CUDA device")
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(1)
    batch = args.batch or (32 if cuda else 1)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    tch = tch_rows(args.against, batch) if args.against else {}
    rows = []
    for dtype in dtypes:
        for kind in ["conv", "gconv", "dwconv", "pconv"]:
            for c, h, w in SHAPES:
                model = stack(kind, c).to(device=device, dtype=DTYPES[dtype])
                x = torch.rand(batch, c, h, w, device=device).to(DTYPES[dtype])
                with torch.inference_mode():
                    for _ in range(args.warmup):
                        model(x)
                    if cuda:
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    for _ in range(args.iters):
                        model(x)
                    if cuda:
                        torch.cuda.synchronize()
                    elapsed = time.perf_counter() - t0
                fps = args.iters * batch / elapsed
                ours, ours_gpu = tch.get((kind, f"{c}x{h}x{w}", dtype), (None, None))
                row = {
                    "case": f"{kind}-{c}x{h}x{w}",
                    "dtype": dtype,
                    "device": name,
                    "batch": batch,
                    "ms_per_batch": 1e3 * elapsed / args.iters,
                    "throughput_per_s": fps,
                    "gmacs_per_s": fps * macs(kind, c, h, w) / 1e9,
                    "tch_ratio": ours / fps if ours else "",
                    "tch_gpu_ratio": ours_gpu / fps if ours_gpu else "",
                }
                rows.append(row)
                ratio = f"  tch/PyTorch {row['tch_ratio']:.3f}" if ours else ""
                print(f"{row['case']:<18} {dtype:<4} {row['throughput_per_s']:10.0f} img/s "
                      f"{row['gmacs_per_s']:9.1f} GMAC/s{ratio}", flush=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    for dtype in dtypes:
        for column, clock in [("tch_ratio", "host time"), ("tch_gpu_ratio", "GPU time")]:
            ratios = [r[column] for r in rows if r["dtype"] == dtype and r[column] != ""]
            if ratios:
                geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
                within = sum(abs(r - 1) <= 0.10 for r in ratios)
                print(f"tch/PyTorch at {dtype} ({clock}): geometric mean {geo:.3f} over "
                      f"{len(ratios)} cases, {within} within ±10%")
    print(f"torch {torch.__version__} on {name}: wrote {args.out}")


if __name__ == "__main__":
    main()
