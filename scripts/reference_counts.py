#!/usr/bin/env python3
"""Reference parameter and multiply-accumulate counts for flopsbench's network zoo.

Prints one JSON document (to stdout, or to the file given with -o) with, for every zoo
network at batch 1 and the given resolution:

- ``params``: ``sum(p.numel() for p in model.parameters())`` (BN gamma/beta included,
  running statistics excluded, exactly as PyTorch defines trainable parameters);
- ``conv_linear_macs``: multiply-accumulates of every ``nn.Conv2d`` and ``nn.Linear`` call,
  measured with forward hooks on the real model (out_elems * in_ch/groups * kh * kw for a
  conv, in_features * out_features per row for a linear);
- ``fvcore``: fvcore's ``FlopCountAnalysis`` total and its per-operator split (fvcore counts
  one multiply-add as one "flop"), as an independent second counter;
- ``layers``: the conv/linear calls in execution order (name, type, shapes, MACs), so a
  mismatch can be located layer by layer.

The references are timm ``fasternet_t0..l`` and torchvision ``resnet18``, ``resnet50``,
``mobilenet_v2``, ``mobilenet_v3_small``, ``mobilenet_v3_large`` with random weights
(weights do not change counts; nothing is downloaded).

Usage:
    python3 scripts/reference_counts.py -o tests/fixtures/reference_counts.json

If torch, timm, torchvision or fvcore are missing, the script creates the ignored virtual
environment ``.deps/refvenv`` (pip, PyPI), installs pinned versions into it and re-runs
itself there.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".deps", "refvenv")
PINNED = ["torch==2.13.0", "torchvision==0.28.0", "timm==1.0.31", "fvcore==0.1.5.post20221221"]

# flopsbench name -> (library, constructor name)
ZOO = [
    ("fasternet-t0", "timm", "fasternet_t0"),
    ("fasternet-t1", "timm", "fasternet_t1"),
    ("fasternet-t2", "timm", "fasternet_t2"),
    ("fasternet-s", "timm", "fasternet_s"),
    ("fasternet-m", "timm", "fasternet_m"),
    ("fasternet-l", "timm", "fasternet_l"),
    ("resnet18", "torchvision", "resnet18"),
    ("resnet50", "torchvision", "resnet50"),
    ("mobilenetv2", "torchvision", "mobilenet_v2"),
    ("mobilenetv3-small", "torchvision", "mobilenet_v3_small"),
    ("mobilenetv3-large", "torchvision", "mobilenet_v3_large"),
]


def ensure_deps():
    try:
        import fvcore  # noqa: F401
        import timm  # noqa: F401
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.executable) == os.path.abspath(python):
        sys.exit("reference_counts.py: dependencies still missing inside " + VENV)
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([python, "-m", "pip", "install", "-q", *PINNED])
    os.execv(python, [python, *sys.argv])


def build(lib, ctor):
    if lib == "timm":
        import timm

        return timm.create_model(ctor, pretrained=False)
    import torchvision

    return getattr(torchvision.models, ctor)(weights=None)


def hook_counts(model, x):
    import torch
    import torch.nn as nn

    layers = []

    def hook(name):
        def fn(module, inputs, output):
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                per_item = output[0].numel() * (module.in_channels // module.groups) * kh * kw
                layers.append({
                    "name": name,
                    "type": "conv",
                    "in_shape": list(inputs[0].shape[1:]),
                    "out_shape": list(output.shape[1:]),
                    "kernel": kh,
                    "stride": module.stride[0],
                    "groups": module.groups,
                    "bias": module.bias is not None,
                    "macs": per_item,
                })
            else:
                per_item = module.in_features * module.out_features
                layers.append({
                    "name": name,
                    "type": "linear",
                    "in_shape": list(inputs[0].shape[1:]),
                    "out_shape": list(output.shape[1:]),
                    "bias": module.bias is not None,
                    "macs": per_item,
                })
        return fn

    handles = [
        m.register_forward_hook(hook(n))
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return layers


def fvcore_counts(model, x):
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return {"total": int(analysis.total()), "by_operator": {k: int(v) for k, v in analysis.by_operator().items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", help="write the JSON here instead of stdout")
    parser.add_argument("--resolution", type=int, default=224)
    args = parser.parse_args()
    ensure_deps()

    import fvcore
    import timm
    import torch
    import torch.nn as nn
    import torchvision

    torch.manual_seed(0)
    nets = {}
    for name, lib, ctor in ZOO:
        model = build(lib, ctor).eval()
        x = torch.randn(1, 3, args.resolution, args.resolution)
        layers = hook_counts(model, x)
        bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        nets[name] = {
            "reference": f"{lib}.{ctor}",
            "params": sum(p.numel() for p in model.parameters()),
            "bn_params": sum(p.numel() for m in bn for p in m.parameters()),
            "bn_layers": len(bn),
            "conv_linear_macs": sum(layer["macs"] for layer in layers),
            "fvcore": fvcore_counts(model, x),
            "layers": layers,
        }
        print(f"{name:18} params {nets[name]['params']:>11,}  conv+linear MACs "
              f"{nets[name]['conv_linear_macs']:>14,}", file=sys.stderr)

    doc = {
        "generated_by": "scripts/reference_counts.py",
        "batch": 1,
        "resolution": args.resolution,
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "timm": timm.__version__,
            "fvcore": getattr(fvcore, "__version__", "unknown"),
        },
        "nets": nets,
    }
    text = json.dumps(doc, indent=1) + "\n"
    if args.output:
        with open(args.output + ".tmp", "w") as f:
            f.write(text)
        os.replace(args.output + ".tmp", args.output)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
