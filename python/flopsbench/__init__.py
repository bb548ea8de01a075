"""flopsbench from Python: do fewer FLOPs make a network faster here?

The ``flopsbench`` command-line tool (a Rust binary installed beside this package) counts
and times PyTorch modules, ONNX files and its zoo networks on real backends (candle,
tract, ONNX Runtime). This package exports a module to ONNX, runs the binary and reads
its result files back::

    import flopsbench, torchvision
    m = torchvision.models.mobilenet_v3_small()
    flopsbench.count(m, (1, 3, 224, 224))
    flopsbench.bench(m, (1, 3, 224, 224), backends=["tract", "ort"], per_layer=True).to_pandas()
"""

from ._api import FlopsbenchError, Records, bench, compare, count
from ._binary import find_binary

__all__ = ["FlopsbenchError", "Records", "bench", "compare", "count", "find_binary"]
