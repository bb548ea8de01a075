"""count, bench and compare: the command-line tool run on a module, a file or a zoo name."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from typing import Any, Iterable, Optional, Sequence, Union

from ._binary import find_binary

Model = Any  # a torch.nn.Module, a path to an .onnx file, or a zoo network's name
Shape = Sequence[int]


class FlopsbenchError(Exception):
    """A usage or input error (the CLI's exit code 2), or a module PyTorch could not
    export. ``message`` is the CLI's message, ``exit_code`` its exit code (2; None for an
    export failure)."""

    def __init__(self, message: str, exit_code: Optional[int] = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Records(list):
    """Rows as dicts with the CSV's columns (``layers`` holds a row's per-layer rows when
    it was profiled). ``run_dir`` is the kept run folder, or None."""

    run_dir: Optional[str] = None

    def to_pandas(self):
        """The rows as a pandas DataFrame (``layers`` left out; see ``layers_frame``)."""
        import pandas

        return pandas.DataFrame([{k: v for k, v in r.items() if k != "layers"} for r in self])

    def layers_frame(self):
        """Every row's layers as one pandas DataFrame."""
        import pandas

        return pandas.DataFrame([layer for r in self for layer in r.get("layers", [])])


def _is_module(model: Model) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(model, torch.nn.Module)


def _export(module: Any, input_shape: Optional[Shape], folder: str) -> str:
    """``module`` as ONNX (opset 17, TorchScript exporter, a dynamic batch) in ``folder``."""
    import torch

    if input_shape is None:
        raise FlopsbenchError("input_shape: a torch module needs one, e.g. (1, 3, 224, 224)")
    path = os.path.join(folder, type(module).__name__ + ".onnx")
    was_training = module.training
    module.eval()
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of torch.export's, which
            # needs onnxscript and exports fewer modules; it warns each time.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module,
                (torch.randn(*input_shape, device=device),),
                path,
                dynamo=False,
                opset_version=17,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            )
    except Exception as e:  # torch raises many types; its message names the operator
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        # The line naming the operator where there is one (`aten::…`), else the first.
        first = next((l for l in lines if "aten::" in l), lines[0] if lines else type(e).__name__)
        raise FlopsbenchError(
            f"torch.onnx.export could not export {type(module).__name__}: {first}", None
        ) from e
    finally:
        module.train(was_training)
    return path


def _flags(opts: dict) -> list:
    """``threads=2`` → ``--threads 2``; True → a bare flag; lists → comma lists."""
    out = []
    for key, value in opts.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            out += [flag, ",".join(str(v) for v in value)]
        else:
            out += [flag, str(value)]
    return out


def _run(args: list) -> tuple:
    """Runs the CLI; stderr is shown as it comes and kept. Raises on exit 2."""
    proc = subprocess.Popen(
        [find_binary(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
    )
    kept: list = []

    def relay() -> None:
        # Reads to the end whatever happens to the console, so the CLI never blocks.
        for line in proc.stderr:
            kept.append(line)
            try:
                sys.stderr.write(line)
                sys.stderr.flush()
            except Exception:
                pass

    t = threading.Thread(target=relay, daemon=True)
    t.start()
    try:
        stdout = proc.stdout.read()
        proc.wait()
    except BaseException:  # Ctrl-C: the run stops with the caller
        proc.kill()
        proc.wait()
        raise
    t.join()
    err = "".join(kept)
    if proc.returncode == 2:
        lines = [l for l in err.splitlines() if l.startswith("error:")]
        message = lines[-1][len("error: "):] if lines else err.strip()
        raise FlopsbenchError(message, 2)
    if proc.returncode not in (0, 1):
        raise FlopsbenchError(
            err.strip() or f"flopsbench exited with {proc.returncode}", proc.returncode
        )
    return stdout, proc.returncode


def _names(value: Union[str, Iterable[str]]) -> str:
    """A name or names as the CLI's comma list."""
    return value if isinstance(value, str) else ",".join(value)


def _input_shape_flags(input_shapes: Optional[Iterable[str]]) -> list:
    """``["input=1x3x224x224"]`` → ``--input-shape input=1x3x224x224`` (each one)."""
    out = []
    for s in [input_shapes] if isinstance(input_shapes, str) else input_shapes or []:
        out += ["--input-shape", s]
    return out


def _target(model: Model, input_shape: Optional[Shape], folder: str) -> str:
    """The CLI's target for ``model``: a module's export, else the path or name itself."""
    if _is_module(model):
        return _export(model, input_shape, folder)
    return os.fspath(model)


def _shape_flags(model: Model, input_shape: Optional[Shape]) -> list:
    """A batch other than 1 as ``--batch``; a zoo network's resolution."""
    if input_shape is None:
        return []
    flags = [] if input_shape[0] == 1 else ["--batch", str(input_shape[0])]
    if not _is_module(model) and not os.fspath(model).endswith(".onnx"):
        flags += ["--resolution", str(input_shape[-1])]
    return flags


def _read_layers(run_dir: str) -> list:
    """The rows of the run's layers.jsonl, typed as the CSV's columns (per-pass times
    left out)."""
    path = os.path.join(run_dir, "layers.jsonl")
    if not os.path.isfile(path):
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                row.pop("samples_ms", None)
                rows.append(row)
    return rows


def count(
    model: Model,
    input_shape: Optional[Shape] = None,
    input_shapes: Optional[Iterable[str]] = None,
    **opts: Any,
) -> Records:
    """Exact analytic counts: MACs, FLOPs, parameters and memory traffic (of the batch).

    ``model`` is a torch module (exported to ONNX in a temporary folder, removed after),
    an ONNX file or a zoo network name (``input_shape``'s last dimension is its
    resolution; its first, when not 1, the batch). ``input_shapes`` sets an ONNX file's
    symbolic dimensions (``["input=1x3x224x224"]``, ``--input-shape``). Other options
    are ``flopsbench count``'s flags: ``per_layer=True``, ``dtype="int8"``,
    ``convention="strict"``. A module's rows carry ``module_params``, the module's own
    parameter count (sum of numel, as fvcore and torchinfo give), beside ``params``, the
    exported graph's (BN folded).
    """
    with tempfile.TemporaryDirectory(prefix="flopsbench-") as folder:
        target = _target(model, input_shape, folder)
        args = ["count", target, "--format", "json", *_shape_flags(model, input_shape)]
        args += _input_shape_flags(input_shapes) + _flags(opts)
        stdout, _ = _run(args)
    rows = Records(json.loads(stdout))
    if _is_module(model):
        own = sum(p.numel() for p in model.parameters())
        for r in rows:
            r["module_params"] = own
    return rows


def bench(
    model: Model,
    input_shape: Optional[Shape] = None,
    backends: Optional[Union[str, Iterable[str]]] = None,
    dtype: Optional[Union[str, Iterable[str]]] = None,
    per_layer: bool = False,
    device: Union[str, Iterable[str]] = "cpu",
    min_time: Optional[Union[float, str]] = None,
    out: Optional[str] = None,
    input_shapes: Optional[Iterable[str]] = None,
    **opts: Any,
) -> Records:
    """Checked, then timed: ``flopsbench net`` on ``model`` (a torch module, an ONNX
    file or a zoo network name), one row per backend and dtype, with ``layers`` when
    ``per_layer``. ``dtype`` (a name or a list) defaults to f32, and to an ONNX file's
    own precision; ``min_time`` is seconds (or ``"2s"``); ``input_shapes`` as for
    ``count``; other options are ``net``'s flags (``threads=1``, ``max_time="5s"``,
    ``runs=20``, ``budget="60s"``, ...). ``out`` keeps the run folder there; without it
    a temporary one is removed. A run where some cases failed returns every row, the
    failed ones with ``status`` and ``error``; a usage or input error raises
    FlopsbenchError.
    """
    with tempfile.TemporaryDirectory(prefix="flopsbench-") as folder:
        target = _target(model, input_shape, folder)
        run_dir = out or os.path.join(folder, "run")
        args = ["net", target, "--format", "json", "--out", run_dir, "--device", _names(device)]
        args += _shape_flags(model, input_shape) + _input_shape_flags(input_shapes)
        if dtype is not None:
            args += ["--dtype", _names(dtype)]
        if backends:
            args += ["--backend", _names(backends)]
        if per_layer:
            args.append("--per-layer")
        if min_time is not None:
            args += ["--min-time", str(min_time)]
        stdout, _ = _run(args + _flags(opts))
        rows = Records(json.loads(stdout))
        layers = _read_layers(run_dir)
    keys = ("run_id", "case", "backend", "device", "dtype", "batch", "threads")
    for r in rows:
        own = [l for l in layers if all(str(l.get(k)) == str(r.get(k)) for k in keys)]
        if own:
            r["layers"] = own
    rows.run_dir = out
    return rows


def compare(
    base: Model,
    new: Model,
    input_shape: Optional[Shape] = None,
    backends: Optional[Union[str, Iterable[str]]] = None,
    per_layer: bool = False,
    out: Optional[str] = None,
    **opts: Any,
) -> dict:
    """Did it get faster? ``flopsbench compare``: two result folders (or CSVs), or two
    models (torch modules, ONNX files, zoo names) measured now in the same interleaved
    rounds. Returns ``{"rows": Records, "layers": Records, "by_op": [...]}``: each pair's
    NEW/BASE ratio with its 95% CI and verdict. Options are ``compare``'s flags
    (``across="backend=tract,ort"``, ``noise=2``, ``fail_on_regression=10``, ``min_time``
    and the other ``net`` flags when measuring); a regression beyond
    ``fail_on_regression`` is in the rows (the CLI's exit code 1 is not raised). ``out``
    keeps the comparison (and, when measuring, the run) there.
    """
    def is_results(m: Model) -> bool:
        return not _is_module(m) and (
            os.path.isdir(os.fspath(m)) or os.fspath(m).lower().endswith(".csv")
        )

    with tempfile.TemporaryDirectory(prefix="flopsbench-") as folder:
        def side(model: Model, name: str) -> str:
            if _is_module(model):
                sub = os.path.join(folder, name)
                os.mkdir(sub)
                return _export(model, input_shape, sub)
            return os.fspath(model)

        args = ["compare", side(base, "base"), side(new, "new"), "--format", "json"]
        if not (is_results(base) or is_results(new)):
            args += _shape_flags(base, input_shape)
            if backends:
                args += ["--backend", _names(backends)]
            if per_layer:
                args.append("--per-layer")
            # The run goes to a temporary folder unless kept.
            args += ["--out", out or os.path.join(folder, "run")]
        elif out:
            args += ["--out", out]
        stdout, _ = _run(args + _flags(opts))
    doc = json.loads(stdout)
    return {"rows": Records(doc["rows"]), "layers": Records(doc["layers"]), "by_op": doc["by_op"]}
