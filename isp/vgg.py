"""VGG-19 from MatConvNet's `imagenet-vgg-verydeep-19.mat`, for the content loss (relu5_4).

`load_weights(path)` reads the `.mat` once (struct fields by name, kernels transposed from
[width, height, in, out] to TF's [height, width, in, out]); `net(weights, image)` builds the
layers up to relu5_4 on an RGB image in 0..255 minus `MEAN_RGB`.
"""
import os

import numpy as np
import scipy.io

from isp.errors import UsageError
from isp.tfimport import import_tf

MEAN_RGB = np.array([123.68, 116.779, 103.939], np.float32)
CONTENT_LAYER = "relu5_4"
LAYERS = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4",
)
MISSING_HELP = ("download imagenet-vgg-verydeep-19.mat (MatConvNet's VGG-19, ~510 MB) into "
                "vgg_pretrained/ or point vgg_dir= at it, or train without it: content_loss=False")


def _unwrap(value):
    """Strip the 1x1 object/struct wrappers scipy.io puts around MATLAB values."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _field(layer, name):
    layer = _unwrap(layer)
    if layer.dtype.names is None or name not in layer.dtype.names:
        raise KeyError(name)
    return _unwrap(layer[name].flat[0]) if layer[name].size == 1 else layer[name]


def load_weights(path):
    """[(name, kernel [h, w, in, out] float32 or None, bias [out] or None)] up to relu5_4."""
    if not os.path.isfile(path):
        raise UsageError("VGG-19 file %r not found: %s" % (path, MISSING_HELP))
    try:
        layers = scipy.io.loadmat(path)["layers"][0]
    except Exception as err:  # scipy raises many types for a bad file
        raise UsageError("cannot read VGG-19 file %r as a MatConvNet .mat (%s): %s"
                         % (path, err, MISSING_HELP))
    out = []
    for i, expected in enumerate(LAYERS):
        try:
            name = str(np.asarray(_field(layers[i], "name")).flat[0])
            if name != expected:
                raise ValueError("layer %d is %r, expected %r" % (i, name, expected))
            if expected.startswith("conv"):
                cell = _field(layers[i], "weights")
                kernel = np.transpose(np.asarray(cell.flat[0], np.float32), (1, 0, 2, 3))
                bias = np.asarray(cell.flat[1], np.float32).reshape(-1)
                out.append((name, kernel, bias))
            else:
                out.append((name, None, None))
        except (KeyError, IndexError, ValueError) as err:
            raise UsageError("VGG-19 file %r is not in MatConvNet layout (%s): %s"
                             % (path, err, MISSING_HELP))
    return out


def net(weights, image):
    """relu5_4 features of `image` (RGB 0..255 minus MEAN_RGB, NHWC float32)."""
    tf = import_tf()
    x = image
    for name, kernel, bias in weights:
        kind = name[:4]
        if kind == "conv":
            x = tf.nn.conv2d(x, tf.constant(kernel), strides=[1, 1, 1, 1], padding="SAME")
            x = tf.nn.bias_add(x, tf.constant(bias))
        elif kind == "relu":
            x = tf.nn.relu(x)
        elif kind == "pool":
            x = tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        if name == CONTENT_LAYER:
            break
    return x


def preprocess(image):
    """RGB in 0..1 -> VGG input (0..255 minus the ImageNet mean)."""
    return image * 255.0 - MEAN_RGB
