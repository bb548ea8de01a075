"""The Python API on real modules, files and backends, through the installed wheel
(scripts/test-python installs it into a fresh virtual environment and runs these)."""

import glob
import os
import subprocess
import sys

import pytest
import torch
import torchvision

import flopsbench


def test_count_of_a_torchvision_module_matches_the_reference():
    rows = flopsbench.count(torchvision.models.resnet18(), (1, 3, 224, 224))
    assert len(rows) == 1
    (r,) = rows
    # torchvision's resnet18: conv + linear multiply-adds, and the module's own parameters
    # (sum of numel, as fvcore and torchinfo count them).
    assert r["macs"] == 1_814_073_344
    assert r["module_params"] == 11_689_512
    # The exported graph's parameters: BN folded into the convs.
    assert 0 < r["params"] < r["module_params"]


def test_bench_of_a_module_on_tract_and_ort_is_checked_and_profiled(tmp_path, monkeypatch):
    # Nothing else could provide ONNX Runtime: no ORT_DYLIB_PATH, no library in the
    # system folders the binary searches, and no .deps/ above the working folder or the
    # binary.
    assert "ORT_DYLIB_PATH" not in os.environ
    system = ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
    assert not [p for d in system for p in glob.glob(d + "/libonnxruntime.so*")]
    monkeypatch.chdir(tmp_path)
    module = torchvision.models.mobilenet_v3_small()
    rows = flopsbench.bench(
        module,
        (1, 3, 64, 64),
        backends=["tract", "ort"],
        per_layer=True,
        min_time=0.2,
        max_time="1s",
        warmup="0.1s",
    )
    assert sorted(r["backend"] for r in rows) == ["ort", "tract"]
    for r in rows:
        # ort's library came from the onnxruntime package of this environment.
        assert r["status"] == "ok", r
        assert r["max_abs_err"] is not None and r["median_ms"] > 0
        layers = r["layers"]
        assert layers and all(l["status"] == "ok" for l in layers)
        # The layers' multiply-adds add up to the network's.
        assert sum(l["macs"] for l in layers) == r["macs"]
        assert all(l["run_id"] == r["run_id"] for l in layers)
    assert rows.run_dir is None
    # The export and the run went to temporary folders, now removed.
    assert list(tmp_path.iterdir()) == []


def test_bench_of_a_zoo_network_keeps_its_run_folder(tmp_path):
    out = tmp_path / "run"
    rows = flopsbench.bench(
        "fasternet-t0", (1, 3, 64, 64), backends=["tract", "ort"], min_time=0.2,
        max_time="1s", warmup="0.1s", out=str(out),
    )
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(r["case"] == "fasternet-t0-64" for r in rows)
    assert (out / "results.csv").is_file() and rows.run_dir == str(out)


class Eigen(torch.nn.Module):
    def forward(self, x):
        return torch.linalg.eigh(x @ x.transpose(-1, -2))[0]


def test_a_module_pytorch_cannot_export_names_the_operator():
    with pytest.raises(flopsbench.FlopsbenchError) as e:
        flopsbench.count(Eigen(), (1, 3, 8, 8))
    assert "aten::linalg_eigh" in e.value.message
    assert e.value.exit_code is None


def test_a_bad_argument_raises_with_the_clis_message_and_code():
    with pytest.raises(flopsbench.FlopsbenchError) as e:
        flopsbench.bench("fasternet-t0", (1, 3, 64, 64), backends=["nope"])
    assert e.value.exit_code == 2
    assert "--backend" in e.value.message and "nope" in e.value.message
    with pytest.raises(flopsbench.FlopsbenchError) as e:
        flopsbench.count(torchvision.models.resnet18())
    assert "input_shape" in e.value.message


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "flopsbench", "count", "resnet18", "--format", "csv"],
        capture_output=True, text=True, check=True,
    )
    assert "1814073344" in out.stdout


def test_compare_two_modules_in_paired_rounds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = torchvision.models.mobilenet_v3_small()
    b = torchvision.models.mobilenet_v3_small(width_mult=0.5)
    c = flopsbench.compare(a, b, (1, 3, 64, 64), backends=["tract"], min_time=0.5, warmup="0.1s")
    (row,) = c["rows"]
    assert row["paired"] is True and row["across"] == "case"
    # Half the width: fewer multiply-adds, and faster, in the same rounds.
    assert row["ratio"] < 1, row
    # Nothing left behind in the working folder.
    assert list(tmp_path.iterdir()) == []
