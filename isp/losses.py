"""The training loss and validation figures: 20*MSE + VGG-19 content (relu5_4) + 20*(1 - SSIM),
with MS-SSIM beside them. Functions take the TensorFlow module `tf` (imported late, see isp/tfimport.py)."""
import numpy as np

from isp import vgg

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(h, w):
    """How many MS-SSIM scales fit a patch (each scale halves it; the window is 11 pixels)."""
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and min(h, w) // 2 ** scales >= 11:
        scales += 1
    return scales


def ssim_per_image(tf, a, b, max_val=1.0, size=11, sigma=1.5):
    """tf.image.ssim(a, b, max_val), computed faster: the same numbers, separable filtering.

    tf.image.ssim blurs with an 11x11 Gaussian window that is the outer product of a 1-D
    Gaussian, as four 11x11 depthwise convolutions. Here the four maps (a, b, a*b, a^2+b^2) are
    stacked and blurred at once by an 11x1 and a 1x11 pass: 22 instead of 121 multiplies a pixel
    (what that saves a training step: docs/benchmarks.md). Same constants (k1=0.01, k2=0.03),
    VALID windows, mean over pixels and channels.
    """
    g = np.exp(-0.5 * (np.arange(size) - (size - 1) / 2.0) ** 2 / sigma ** 2)
    g = (g / g.sum()).astype(np.float32)
    maps = tf.concat([a, b, a * b, tf.square(a) + tf.square(b)], axis=3)
    n = int(maps.get_shape()[-1])
    k_v = tf.constant(np.tile(g.reshape(size, 1, 1, 1), [1, 1, n, 1]))
    k_h = tf.constant(np.tile(g.reshape(1, size, 1, 1), [1, 1, n, 1]))
    blur = tf.nn.depthwise_conv2d(maps, k_v, [1, 1, 1, 1], "VALID")
    blur = tf.nn.depthwise_conv2d(blur, k_h, [1, 1, 1, 1], "VALID")
    mu_a, mu_b, e_ab, e_sq = tf.split(blur, 4, axis=3)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    num0 = 2.0 * mu_a * mu_b
    den0 = tf.square(mu_a) + tf.square(mu_b)
    luminance = (num0 + c1) / (den0 + c1)
    cs = (2.0 * e_ab - num0 + c2) / (e_sq - den0 + c2)
    return tf.reduce_mean(luminance * cs, axis=[1, 2, 3])


def build_losses(tf, enhanced, target, vgg_weights, patch_h, patch_w):
    """The loss and its terms (content 0 without VGG weights), SSIM and MS-SSIM: a dict of scalars."""
    mse = tf.reduce_mean(tf.squared_difference(enhanced, target))
    if vgg_weights is not None:
        both = vgg.net(vgg_weights, vgg.preprocess(tf.concat([enhanced, target], axis=0)))
        f_out, f_tgt = tf.split(both, 2, axis=0)
        per_image = tf.cast(tf.reduce_prod(tf.shape(f_out)[1:]), tf.float32)
        batch = tf.cast(tf.shape(f_out)[0], tf.float32)
        content = 2.0 * tf.nn.l2_loss(f_out - f_tgt) / (per_image * batch)
    else:
        content = tf.constant(0.0)
    ssim = tf.reduce_mean(ssim_per_image(tf, enhanced, target, 1.0))
    loss = 20.0 * mse + content + 20.0 * (1.0 - ssim)
    scales = ms_ssim_scales(patch_h, patch_w)
    ms_ssim = tf.reduce_mean(tf.image.ssim_multiscale(
        enhanced, target, 1.0, power_factors=MS_SSIM_WEIGHTS[:scales]))
    return {"loss": loss, "content": content, "mse": mse, "ssim": ssim, "ms_ssim": ms_ssim}
