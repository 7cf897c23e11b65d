"""isp/vgg.py: MatConvNet's VGG-19 layout, read and built."""
import numpy as np
import pytest
import scipy.io

from isp import vgg
from isp.errors import UsageError
from isp.tfimport import import_tf

tf = import_tf()


def test_vgg_reads_matconvnet_layout(vgg_mat, tmp_path):
    weights = vgg.load_weights(vgg_mat)
    assert [w[0] for w in weights] == list(vgg.LAYERS)
    stored = scipy.io.loadmat(vgg_mat)["layers"][0][2]  # conv1_2: kernels stored [w, h, in, out]
    kernel = stored["weights"][0, 0][0, 0]
    np.testing.assert_array_equal(weights[2][1], np.transpose(kernel, (1, 0, 2, 3)))
    with tf.Graph().as_default():
        img = tf.placeholder(tf.float32, [1, 64, 64, 3])
        feats = vgg.net(weights, vgg.preprocess(img))
        assert feats.shape.as_list() == [1, 4, 4, weights[-2][1].shape[3]]
    bad = str(tmp_path / "bad.mat")
    scipy.io.savemat(bad, {"layers": np.zeros((1, 3))})
    with pytest.raises(UsageError):
        vgg.load_weights(bad)
    with pytest.raises(UsageError) as err:
        vgg.load_weights(str(tmp_path / "missing.mat"))
    assert "content_loss=False" in str(err.value)
