"""Write a VGG-19 `.mat` in MatConvNet's layout with random weights (for tests and the demo).

The real file cannot be downloaded here; this one has the same structure (a `layers` cell of
structs with `name`, `type` and, for convs, a 1x2 `weights` cell of [width, height, in, out]
kernels and [1, out] biases), so isp/vgg.py's loading code runs for real. Channel widths are the
real ones divided by `width_div` to keep the file small.

    python make_vgg_mat.py out=vgg_pretrained/random-vgg19.mat width_div=16 seed=0
"""
import os

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

import numpy as np
import scipy.io

from isp.args import Arg, parse_args, positive_int
from isp.utils import atomic_output

ARGS = [
    Arg("out", str, "vgg_pretrained/random-vgg19.mat", "where to write the .mat"),
    Arg("width_div", positive_int, 16, "divide VGG-19's channel widths (64..512) by this"),
    Arg("seed", int, 0, "random seed"),
]
STAGES = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def write_random_vgg(path, width_div=16, seed=0):
    rng = np.random.RandomState(seed)
    layers = []
    cin = 3
    for s, (convs, width) in enumerate(STAGES, 1):
        cout = max(width // width_div, 1)
        for c in range(1, convs + 1):
            std = np.sqrt(2.0 / (9 * cin))
            kernel = (rng.randn(3, 3, cin, cout) * std).astype(np.float32)  # [w, h, in, out]
            bias = (rng.randn(1, cout) * 0.01).astype(np.float32)
            cell = np.empty((1, 2), dtype=object)
            cell[0, 0], cell[0, 1] = kernel, bias
            layers.append({"name": "conv%d_%d" % (s, c), "type": "conv", "weights": cell,
                           "stride": np.array([[1, 1]], np.float64), "pad": np.zeros((1, 4))})
            layers.append({"name": "relu%d_%d" % (s, c), "type": "relu"})
            cin = cout
        layers.append({"name": "pool%d" % s, "type": "pool", "method": "max",
                       "pool": np.array([[2, 2]], np.float64), "stride": np.array([[2, 2]], np.float64)})
    cells = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with atomic_output(path, ".tmp.mat") as tmp:
        scipy.io.savemat(tmp, {"layers": cells, "meta": {"note": "random weights, for tests"}})
    return path


def main(argv):
    args = parse_args(ARGS, argv, doc=__doc__)
    try:
        write_random_vgg(args["out"], args["width_div"], args["seed"])
    except OSError as err:
        raise UsageError("cannot write %r: %s" % (args["out"], err))
    print("wrote %s" % args["out"])


if __name__ == "__main__":
    run_main(main)
