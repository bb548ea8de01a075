#!/usr/bin/env python3
"""The paper's Table-1 cases in plain PyTorch eager, the paper's GPU protocol.

Conv, GConv (16 groups), DWConv and PConv (r = 1/4, the authors' split/conv/cat forward),
10 stacked 3x3 layers on the four stage maps; batch 32 on CUDA (cudnn.benchmark on),
50 warm-up passes, then 200 timed passes between two torch.cuda.synchronize() calls:
throughput = 200 * batch / elapsed, GFLOPS = throughput * multiply-adds (the paper's
FLOPs). On CPU (the dry run of scripts/gpu-check) the same loop times batch 1 on 1
thread. Writes CSV to --out; used by scripts/gpu-check beside flopsbench's own rows.
"""

import argparse
import csv
import sys
import time

import torch
from torch import nn

SHAPES = [(96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7)]


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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--out", required=True)
    args = p.parse_args()
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
    rows = []
    for kind in ["conv", "gconv", "dwconv", "pconv"]:
        for c, h, w in SHAPES:
            model = stack(kind, c).to(device)
            x = torch.rand(batch, c, h, w, device=device)
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
            row = {
                "case": f"{kind}-{c}x{h}x{w}",
                "device": name,
                "batch": batch,
                "ms_per_batch": 1e3 * elapsed / args.iters,
                "throughput_per_s": fps,
                "gmacs_per_s": fps * macs(kind, c, h, w) / 1e9,
            }
            rows.append(row)
            print(f"{row['case']:<18} {row['throughput_per_s']:10.0f} img/s "
                  f"{row['gmacs_per_s']:9.1f} GMAC/s", flush=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"torch {torch.__version__} on {name}: wrote {args.out}")


if __name__ == "__main__":
    main()
