"""The architectures isp/model.py builds and the sizes they take, checked before TensorFlow is
imported; the seed's default export size and the suffix that names exports of other sizes."""
from isp.errors import UsageError

# The architectures isp/model.py builds, and the multiple that the full-resolution size must be for
# each: PUNET pools 4 times on the half-resolution input (2 * 2**4); the compact model only needs
# the 2x2 Bayer grid. Kept here so that arguments are checked before TensorFlow is imported.
ARCHS = ("punet", "model")
SIZE_MULTIPLE = {"punet": 32, "model": 2}
# The seed's export size as (img_h, img_w): 1920x1088 (W x H), input 1x544x960x4. Frozen graphs and
# TFLite files of any other size carry it in their names: <stem>_<img_w>x<img_h>, width first as
# every printed size (a dynamic-size export: <stem>_none).
DEFAULT_SIZE = (1088, 1920)


def size_tag(h, w):
    """'' for the default size, else '_<w>x<h>' (e.g. '_768x512' for h=512, w=768): the suffix export
    names carry, W x H as the scripts print sizes. Names written before carry '_<h>x<w>': see
    size_tags."""
    return "" if (h, w) == DEFAULT_SIZE else "_%dx%d" % (w, h)


def size_tags(h, w):
    """The suffixes a name of an h x w file may carry: size_tag's '_<w>x<h>' and the '_<h>x<w>' of
    names written before sizes in names were W x H (one tag where they are the same: a square, the
    default's ''). Which order an old name has is not told from the name (_512x768 is either order
    of some size) but from the file's own size: a reader checks a name against the size the file
    declares (a .tflite's input, isp.tflite_ops.input_signature), never parses a size from it."""
    tags = [size_tag(h, w)]
    if (h, w) != DEFAULT_SIZE and h != w:
        tags.append("_%dx%d" % (h, w))
    return tags


def check_arch(arch, num_maps_base=16):
    """UsageError unless arch is known and num_maps_base fits it: arch=model's 2b maps become b/2
    after depth_to_space (b even); PUNET's last up-sampling has b/4 maps (b >= 4)."""
    if arch not in ARCHS:
        raise UsageError("unknown arch %r; choose from %s" % (arch, ", ".join(ARCHS)))
    if arch == "model" and num_maps_base % 2:
        raise UsageError("num_maps_base=%d: arch=model needs an even number" % num_maps_base)
    if arch == "punet" and num_maps_base < 4:
        raise UsageError("num_maps_base=%d: arch=punet needs at least 4" % num_maps_base)


def check_arch_and_size(arch, name_w, w, name_h, h, num_maps_base=16):
    """UsageError unless arch is known, num_maps_base fits it and w, h are multiples of what it needs."""
    check_arch(arch, num_maps_base)
    m = SIZE_MULTIPLE[arch]
    for name, v in ((name_w, w), (name_h, h)):
        if v % m:
            raise UsageError("%s=%d is not a multiple of %d, which arch=%s needs (try %d)"
                             % (name, v, m, arch, max(m, v // m * m)))


def parse_photo_sizes(text, key, arch, num_maps_base=16):
    """'384x256,320x512' (the value of key=) -> [(256, 384), (512, 320)], (h, w) photo sizes that the
    arch can take; UsageError naming the key otherwise."""
    sizes = []
    for word in text.split(","):
        parts = word.strip().lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise UsageError("%s=%r: give WxH photo sizes separated by commas, e.g. 384x256,320x512" % (key, text))
        w, h = int(parts[0]), int(parts[1])
        check_arch_and_size(arch, "%s width" % key, w, "%s height" % key, h, num_maps_base)
        sizes.append((h, w))
    return sizes
