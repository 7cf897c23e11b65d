"""Train a RAW -> RGB network on the MAI21 layout.

    python train_model.py arch=model batch_size=32 num_train_iters=100000

Loss: 20*MSE + VGG-19 content (relu5_4) + 20*(1 - SSIM); Adam. Random 90-degree rotations and
flips; `train_size` random training patches are reloaded every 1000 iterations. Every `eval_step`
iterations: validation (loss, content, MSE, PSNR, MS-SSIM), a checkpoint
`<model_dir>/<arch>_iteration_<iter>.ckpt` and a line in `<model_dir>/logs_<restore_iter>-<num_train_iters>.txt`.
`restore_iter=N` resumes from checkpoint N, `restore_iter=latest` from the newest (after a kill:
checkpoints are written atomically); restore_iter=None starts afresh (the log is then
named logs_0-...). TensorBoard summaries (training loss every `summary_step` iterations,
validation figures and crops every `eval_step`, the graph) go to <model_dir>/tensorboard/;
`save_mid_imgs=True` also writes <result_dir>/<arch>_iteration_<iter>_val.png (RAW preview |
output | target for a few validation crops).
"""
import glob
import math
import os
import sys
import time

import numpy as np

from utils import (Arg, UsageError, atomic_write_text, check_arch_and_size, checkpoint_exists, ensure_dirs,
                   optional_int, optional_int_or_latest, parse_args, positive_float, positive_int,
                   progress, run_main, to_bool)

ARGS = [
    Arg("dataset_dir", str, "raw_images/", "dataset root (train/, val/ inside)"),
    Arg("model_dir", str, "models/", "where checkpoints and logs are written"),
    Arg("result_dir", str, "results/", "where save_mid_imgs writes its PNGs"),
    Arg("vgg_dir", str, "vgg_pretrained/imagenet-vgg-verydeep-19.mat", "MatConvNet VGG-19 .mat for the content loss"),
    Arg("dslr_dir", str, "fujifilm/", "target (RGB) sub-folder of train/ and val/"),
    Arg("phone_dir", str, "mediatek_raw/", "RAW sub-folder of train/ and val/"),
    Arg("arch", str, "model", "network: model (compact) or punet (MAI21 baseline)"),
    Arg("num_maps_base", positive_int, 16, "base number of feature maps"),
    Arg("restore_iter", optional_int_or_latest, None,
        "resume from <arch>_iteration_<restore_iter>.ckpt (latest: the newest one, or start afresh if none)"),
    Arg("patch_w", positive_int, 256, "training patch width (full-resolution pixels)"),
    Arg("patch_h", positive_int, 256, "training patch height (full-resolution pixels)"),
    Arg("batch_size", positive_int, 32, "patches per training step (per rank with distributed=True)"),
    Arg("train_size", positive_int, 5000, "training patches held in memory (reloaded every 1000 iterations)"),
    Arg("learning_rate", positive_float, 5e-5, "Adam learning rate"),
    Arg("eval_step", positive_int, 1000, "validate and save a checkpoint every this many iterations"),
    Arg("num_train_iters", positive_int, 100000, "train up to this iteration"),
    Arg("content_loss", to_bool, True, "use the VGG-19 content loss (False: no VGG file needed)"),
    Arg("seed", optional_int, None, "random seed for data sampling and initialisation"),
    Arg("tensorboard", to_bool, True, "write TensorBoard summaries under <model_dir>/tensorboard/"),
    Arg("summary_step", positive_int, 10, "TensorBoard: mean training loss every this many iterations"),
    Arg("save_mid_imgs", to_bool, False, "write RAW preview | output | target PNGs to result_dir every eval_step"),
    Arg("augment", to_bool, True, "random 90-degree rotations and flips of each batch"),
    Arg("distributed", to_bool, False, "data-parallel training through Horovod: horovodrun -np N python train_model.py ..."),
    Arg("scale_lr", to_bool, False, "distributed: multiply learning_rate by the number of ranks"),
]
HOROVOD_INSTALL = {  # where Horovod 0.28.1 builds: TF 1.15 and TF 2.12 (not TF 2.21; see README)
    "tf1": "WITH_HOROVOD=1 bash setup_env.sh tf1 (builds Horovod 0.28.1 with Gloo into .venv-tf1/)",
    "tf2": "bash setup_env.sh tf2-horovod (TF 2.12.1 with Horovod 0.28.1 in .venv-tf2-horovod/)",
}
HOROVOD_NEWEST_TF = (2, 12)  # the newest TF that this Horovod was built against here
RELOAD_EVERY = 1000
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ckpt_prefix(model_dir, arch, iteration):
    return os.path.join(model_dir, "%s_iteration_%d.ckpt" % (arch, iteration))


def existing_iterations(model_dir, arch):
    """Iterations with a complete checkpoint for `arch` in model_dir, ascending."""
    found = []
    if os.path.isdir(model_dir):
        head = "%s_iteration_" % arch
        for name in os.listdir(model_dir):
            if name.startswith(head) and name.endswith(".ckpt.index"):
                number = name[len(head):-len(".ckpt.index")]
                if number.isdigit():
                    found.append(int(number))
    return sorted(found)


TMP_PREFIX = ".tmp-"  # checkpoints being written; renamed into place when complete


def save_checkpoint(saver, sess, model_dir, arch, iteration):
    """Write <arch>_iteration_<iteration>.ckpt so that a kill at any moment leaves either the
    complete checkpoint or none: the saver writes under a temporary name, the data file is renamed
    into place, then the .index, which marks a checkpoint complete (`checkpoint_exists`). An older
    checkpoint of the same name loses its .index first, so new data never meets an old index."""
    final = ckpt_prefix(model_dir, arch, iteration)
    tmp = os.path.join(model_dir, TMP_PREFIX + os.path.basename(final))
    saver.save(sess, tmp, write_meta_graph=False, write_state=False)
    if os.path.exists(final + ".index"):
        os.remove(final + ".index")
    for path in glob.glob(glob.escape(tmp) + ".data-*"):
        os.replace(path, final + path[len(tmp):])
    os.replace(tmp + ".index", final + ".index")
    return final


def remove_stale_temporaries(model_dir, arch):
    """Remove what a killed run of this arch may have left half-written: temporary checkpoints
    and the temporary copies of logs (those of earlier runs' logs too, whose names differ by
    their restore_iter); complete files are never touched."""
    import shutil
    stale = glob.glob(os.path.join(glob.escape(model_dir), TMP_PREFIX + "%s_iteration_*" % arch))
    stale += glob.glob(os.path.join(glob.escape(model_dir), "logs_*-*.txt.tmp"))
    for path in stale:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    return stale


def require_checkpoint(model_dir, arch, iteration):
    """The prefix of <arch>_iteration_<iteration>.ckpt, or UsageError listing the ones that exist."""
    prefix = ckpt_prefix(model_dir, arch, iteration)
    if not checkpoint_exists(prefix):
        have = existing_iterations(model_dir, arch)
        raise UsageError("no checkpoint %s; existing %s checkpoints: %s" % (
            prefix, arch, ", ".join(map(str, have)) if have else "none"))
    return prefix


def start_horovod():
    """Import and initialise Horovod (distributed=True), or say in one line how to get it."""
    from utils import import_tf
    import_tf()  # quiets TF before Horovod imports it
    import tensorflow
    try:
        import horovod.tensorflow as hvd
    except ImportError as err:
        version = tuple(int(v) for v in tensorflow.__version__.split(".")[:2])
        if version < (2, 0):
            raise UsageError("distributed=True needs Horovod (%s); install it into this stack with: %s"
                             % (err, HOROVOD_INSTALL["tf1"]))
        if version <= HOROVOD_NEWEST_TF:
            raise UsageError("distributed=True needs Horovod (%s); set up the stack that has it: %s"
                             % (err, HOROVOD_INSTALL["tf2"]))
        raise UsageError("distributed=True: Horovod is not installed for TF %s, and Horovod 0.28.1 does not build "
                         "against it (its XLA ops need headers the TF wheel lacks); train distributed on "
                         "TF 2.12: %s, or on TF 1.15: %s" % (tensorflow.__version__, HOROVOD_INSTALL["tf2"],
                                                             HOROVOD_INSTALL["tf1"]))
    hvd.init()
    return hvd


def validate_args(a, rank=0):
    check_arch_and_size(a["arch"], "patch_w", a["patch_w"], "patch_h", a["patch_h"], a["num_maps_base"])
    if min(a["patch_w"], a["patch_h"]) < 32:
        raise UsageError("patch_w and patch_h must be at least 32 (SSIM needs 11x11 windows)")
    if a["restore_iter"] == "latest":
        have = existing_iterations(a["model_dir"], a["arch"])
        a["restore_iter"] = have[-1] if have else None
        if not have:
            print("restore_iter=latest: no %s checkpoint in %s yet; starting afresh" % (a["arch"], a["model_dir"]))
        elif have[-1] >= a["num_train_iters"]:
            print("restore_iter=latest: %s already reached iteration %d of num_train_iters=%d; nothing to train"
                  % (ckpt_prefix(a["model_dir"], a["arch"], have[-1]), have[-1], a["num_train_iters"]))
            sys.exit(0)
    if a["restore_iter"] is not None:
        if a["restore_iter"] < 0:
            raise UsageError("restore_iter must be a non-negative integer or None")
        if rank == 0:  # the other ranks get the weights from rank 0 (their disks may not hold them)
            require_checkpoint(a["model_dir"], a["arch"], a["restore_iter"])
        if a["restore_iter"] >= a["num_train_iters"]:
            raise UsageError("restore_iter=%d is not below num_train_iters=%d: nothing to train"
                             % (a["restore_iter"], a["num_train_iters"]))


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
    stacked and blurred at once by an 11x1 and a 1x11 pass: 22 instead of 121 multiplies a pixel.
    On TF 1.15 this takes a PUNET training step from 2.7 s to ~1 s. Same constants (k1=0.01,
    k2=0.03), VALID windows, mean over pixels and channels.
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
    """Loss terms of formats.md: returns dict of scalar tensors."""
    import vgg
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


def augment(raw, rgb, rng, square):
    """The same random 90-degree rotation and flip for a batch of planes and targets."""
    k = rng.randint(4) if square else 2 * rng.randint(2)
    raw = np.rot90(raw, k, axes=(1, 2))
    rgb = np.rot90(rgb, k, axes=(1, 2))
    if rng.randint(2):
        raw, rgb = raw[:, :, ::-1], rgb[:, :, ::-1]
    return raw, rgb


VAL_PREVIEW = 4  # validation crops shown in TensorBoard and in save_mid_imgs PNGs


class Summaries:
    """TensorBoard event file of one run: scalars, image strips and the graph (tf.compat.v1 API).

    Values are written as Summary protos from numbers the training loop already has, so they add
    no ops to the graph and no extra session runs.
    """

    def __init__(self, tf, logdir, graph):
        self.tf = tf
        self.writer = tf.summary.FileWriter(logdir)
        graph_def = graph.as_graph_def()
        for node in graph_def.node:  # the graph view needs no weights: drop big constants (VGG)
            if node.op == "Const" and len(node.attr["value"].tensor.tensor_content) > 4096:
                node.attr["value"].tensor.ClearField("tensor_content")
        self.writer.add_graph(None, graph_def=graph_def)

    def scalars(self, step, values):
        summary = self.tf.Summary(value=[self.tf.Summary.Value(tag=k, simple_value=float(v))
                                         for k, v in values.items()])
        self.writer.add_summary(summary, step)

    def images(self, step, images):
        import previews
        value = []
        for tag, img in images.items():
            value.append(self.tf.Summary.Value(tag=tag, image=self.tf.Summary.Image(
                height=img.shape[0], width=img.shape[1], colorspace=3,
                encoded_image_string=previews.png_bytes(img))))
        self.writer.add_summary(self.tf.Summary(value=value), step)
        self.writer.flush()

    def close(self):
        self.writer.close()


def main(argv):
    a = parse_args(ARGS, argv, prog="train_model.py", doc=__doc__)
    hvd = start_horovod() if a["distributed"] else None
    rank, ranks = (hvd.rank(), hvd.size()) if hvd else (0, 1)
    validate_args(a, rank)

    import load_dataset
    # Everything that can fail on the user's input fails before any file is written: the headers
    # of every pair (modes, sizes), the VGG file, the validation set, the checkpoint to resume,
    # the first training patches (decoded: a truncated file among them is named), the folders.
    for split in ("train", "val"):
        names = load_dataset.paired_names(a["dataset_dir"], split, a["phone_dir"], a["dslr_dir"])
        load_dataset.check_pairs(a["dataset_dir"], split, a["phone_dir"], a["dslr_dir"], names,
                                 a["patch_h"], a["patch_w"])
    vgg_weights = None
    if a["content_loss"]:
        import vgg
        vgg_weights = vgg.load_weights(a["vgg_dir"])
    val_raw, val_rgb = load_dataset.load_val_data(
        a["dataset_dir"], a["phone_dir"], a["dslr_dir"], a["patch_h"], a["patch_w"])
    start = a["restore_iter"] or 0
    ph, pw = a["patch_h"], a["patch_w"]

    from utils import import_tf
    tf = import_tf()
    import model
    if a["seed"] is not None:
        tf.set_random_seed(a["seed"])
    phone = tf.placeholder(tf.float32, [None, ph // 2, pw // 2, 4], name="Placeholder")
    target = tf.placeholder(tf.float32, [None, ph, pw, 3], name="target")
    enhanced = model.build(a["arch"], phone, a["num_maps_base"])
    terms = build_losses(tf, enhanced, target, vgg_weights, ph, pw)
    gen_vars = [v for v in tf.global_variables() if v.name.startswith("generator")]
    optimizer = tf.train.AdamOptimizer(a["learning_rate"] * (ranks if a["scale_lr"] else 1))
    loss_fetch = terms["loss"]
    if hvd:  # gradients (and, for the log, the loss) averaged over the ranks
        optimizer = hvd.DistributedOptimizer(optimizer)
        loss_fetch = hvd.allreduce(terms["loss"])
        sync = hvd.broadcast_global_variables(0)
        # rank 0 decides where training starts and the data seed (its disk has the checkpoints)
        shared = hvd.broadcast(tf.constant([start, -1 if a["seed"] is None else a["seed"],
                                            np.random.randint(2 ** 31 - 1)], tf.int64), 0)
    train_step = optimizer.minimize(terms["loss"], var_list=gen_vars)
    saver = tf.train.Saver(var_list=gen_vars, max_to_keep=100)
    weights_finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in gen_vars])
    config = tf.ConfigProto()
    config.gpu_options.allow_growth = True
    if hvd:
        config.gpu_options.visible_device_list = str(hvd.local_rank())  # one GPU per rank, where GPUs exist
        # ranks on one machine share its cores instead of each starting a thread per core
        config.intra_op_parallelism_threads = max(1, (os.cpu_count() or 1) // hvd.local_size())

    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        seed = a["seed"]
        if hvd:
            start, seed, drawn = (int(v) for v in sess.run(shared))
            # every rank draws the same global batch of ranks x batch_size patches and trains on its
            # own slice: the ranks see distinct patches, together exactly those one process with
            # ranks x batch_size would see
            seed = drawn if seed < 0 else seed
        # a resumed run draws other patches than the run it continues (same seed: same draws)
        rng = np.random.RandomState(seed if seed is None or not start else [seed, start])
        log_path = os.path.join(a["model_dir"], "logs_%d-%d.txt" % (start, a["num_train_iters"]))

        def load_train():
            return load_dataset.load_training_batch(a["dataset_dir"], a["phone_dir"], a["dslr_dir"],
                                                    a["train_size"], ph, pw, rng)
        if a["restore_iter"] is not None and rank == 0:
            path = ckpt_prefix(a["model_dir"], a["arch"], start)
            try:
                saver.restore(sess, path)
            except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as err:
                raise UsageError(model.restore_error(path, a["arch"], a["num_maps_base"], err))
            print("restored %s" % path)
        if hvd:
            sess.run(sync)  # every rank starts from rank 0's weights (fresh or restored)
            if rank == 0:
                print("Horovod: %d rank%s, batch_size %d per rank (%d per step), learning_rate %g%s" % (
                    ranks, "" if ranks == 1 else "s", a["batch_size"], ranks * a["batch_size"], a["learning_rate"] * (ranks if a["scale_lr"] else 1),
                    " (scaled by %d)" % ranks if a["scale_lr"] else " (not scaled; scale_lr=True multiplies it)"))
        train_raw, train_rgb = load_train()
        # only now, with every input checked, is anything written (and only by rank 0)
        if rank == 0:
            ensure_dirs(*[(a["model_dir"], "model_dir")] +
                        ([(a["result_dir"], "result_dir")] if a["save_mid_imgs"] else []))
            remove_stale_temporaries(a["model_dir"], a["arch"])

        summaries = None
        if a["tensorboard"] and rank == 0:
            summaries = Summaries(tf, os.path.join(a["model_dir"], "tensorboard", "%s_%d-%d" % (
                a["arch"], start, a["num_train_iters"])), sess.graph)

        def validate():
            """Mean validation figures, and the first crops as (input preview, output, target)."""
            import previews
            sums = dict.fromkeys(terms, 0.0)
            crops = []
            for i in range(0, len(val_raw), a["batch_size"]):
                x, y = load_dataset.to_float(val_raw[i:i + a["batch_size"]], val_rgb[i:i + a["batch_size"]])
                values, out = sess.run([terms, enhanced], {phone: x, target: y})
                for j in range(min(VAL_PREVIEW - len(crops), len(x))):
                    crops.append((previews.raw_preview(x[j]), out[j], y[j]))
                for k in sums:
                    sums[k] += values[k] * len(x)
            means = {k: v / len(val_raw) for k, v in sums.items()}
            means["psnr"] = 20.0 * math.log10(1.0 / math.sqrt(max(means["mse"], 1e-12)))
            return means, crops

        def show(step, crops):
            import previews
            if summaries is not None:
                summaries.images(step, {"val/%s" % name: previews.grid([[c[k] for c in crops]])
                                        for k, name in enumerate(("input_preview", "output", "target"))})
            if a["save_mid_imgs"]:
                previews.save_png(os.path.join(a["result_dir"], "%s_iteration_%d_val.png" % (a["arch"], step)),
                                  previews.grid([list(c) for c in crops]))

        def diverged(what, iteration):
            """A NaN/Inf: stop with one line naming the iteration; nothing of it is saved."""
            bar.close()
            last = existing_iterations(a["model_dir"], a["arch"])
            sys.stderr.write("train_model.py: error: %s became NaN/Inf at iteration %d; stopped without "
                             "saving (last good checkpoint: %s); lower learning_rate and resume with "
                             "restore_iter=latest\n" % (what, iteration, ckpt_prefix(
                                 a["model_dir"], a["arch"], last[-1]) if last else "none"))
            sys.exit(1)

        square = ph == pw
        running = []
        bar = progress(range(start, a["num_train_iters"]), desc="training %s" % a["arch"],
                       unit="it", initial=start, total=a["num_train_iters"], disable=rank != 0)
        batch = a["batch_size"]
        t0 = time.time()
        for i in bar:
            if i > start and (i - start) % RELOAD_EVERY == 0:
                train_raw, train_rgb = load_train()
            idx = rng.randint(0, len(train_raw), batch * ranks)
            raw, rgb = train_raw[idx], train_rgb[idx]
            if a["augment"]:
                raw, rgb = augment(raw, rgb, rng, square)
            x, y = load_dataset.to_float(raw[rank * batch:(rank + 1) * batch], rgb[rank * batch:(rank + 1) * batch])
            loss, _ = sess.run([loss_fetch, train_step], {phone: x, target: y})
            if not math.isfinite(loss):
                diverged("the training loss", i + 1)
            running.append(loss)
            if rank != 0 and len(running) > 1000:  # only rank 0 validates (and empties it)
                del running[:-100]
            bar.set_postfix(loss="%.4f" % np.mean(running[-100:]), refresh=False)
            done = i + 1
            if summaries is not None and done % a["summary_step"] == 0:
                summaries.scalars(done, {"train/loss": np.mean(running[-a["summary_step"]:])})
            if rank == 0 and (done % a["eval_step"] == 0 or done == a["num_train_iters"]):
                v, crops = validate()
                if not (math.isfinite(v["loss"]) and sess.run(weights_finite)):
                    diverged("the validation loss" if not math.isfinite(v["loss"]) else "a weight", done)
                line = ("step %d | training loss: %.4f | validation: loss %.4f, content %.4f, "
                        "mse %.6f, psnr %.2f, ms-ssim %.4f, ssim %.4f | %.1f s" % (
                            done, np.mean(running), v["loss"], v["content"], v["mse"], v["psnr"],
                            v["ms_ssim"], v["ssim"], time.time() - t0))
                running = []
                save_checkpoint(saver, sess, a["model_dir"], a["arch"], done)
                atomic_write_text(log_path, line + "\n", mode="a")
                bar.write(line)
                if summaries is not None:
                    summaries.scalars(done, {"val/" + k: v[k] for k in
                                             ("loss", "content", "mse", "psnr", "ssim", "ms_ssim")})
                show(done, crops)
        bar.close()
        if summaries is not None:
            summaries.close()
    if rank == 0:
        print("done: checkpoints in %s, log %s" % (a["model_dir"], log_path))


if __name__ == "__main__":
    run_main(main)
