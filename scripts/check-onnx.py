#!/usr/bin/env python3
"""Loads an ONNX file written by `flopsbench export` in onnxruntime (Python) and checks
that it computes what flopsbench computed for the same seed.

Usage: check-onnx.py MODEL.onnx INPUT.f32 EXPECTED.f32 N,C,H,W

INPUT.f32 and EXPECTED.f32 are raw little-endian float32 arrays (flopsbench's seeded
input and its own output). Prints the largest absolute and relative difference; exits 1
if the relative difference (to the largest expected magnitude) exceeds 1e-4.
Run it with the .deps venv's Python (scripts/setup-ort installs onnxruntime and numpy).
"""

import sys

import numpy as np
import onnxruntime as ort


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    model, input_path, expected_path, dims = sys.argv[1:]
    shape = [int(d) for d in dims.split(",")]
    x = np.fromfile(input_path, dtype="<f4").reshape(shape)
    expected = np.fromfile(expected_path, dtype="<f4")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    got = got.reshape(-1).astype(np.float64)
    if got.shape != expected.shape:
        print(f"output has {got.size} values, expected {expected.size}")
        sys.exit(1)
    abs_err = float(np.max(np.abs(got - expected)))
    rel_err = abs_err / max(float(np.max(np.abs(expected))), 1e-30)
    print(f"onnxruntime {ort.__version__}: max abs err {abs_err:.3e}, relative {rel_err:.3e}")
    sys.exit(0 if rel_err <= 1e-4 else 1)


if __name__ == "__main__":
    main()
