"""The TensorFlow session settings the scripts share. Functions take the module `tf` (imported late,
see isp/tfimport.py)."""


def session_config(tf):
    """A tf.ConfigProto for a session that takes GPU memory as it needs it (allow_growth) instead of
    reserving all of it at the start, so that other processes can share the GPU."""
    config = tf.ConfigProto()
    config.gpu_options.allow_growth = True
    return config
