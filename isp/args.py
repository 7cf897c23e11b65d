"""Strict key=value arguments: every script declares its arguments once, as a table of
`Arg(name, type, default, help)`, and calls `parse_args(TABLE, argv)`. Unknown keys, repeated keys
and malformed values raise UsageError (one line and exit code 2 through errors.run_main), so every
script fails the same way; help=True prints the table."""
import difflib
import math
import os
import sys
from collections import namedtuple

from isp.errors import UsageError

Arg = namedtuple("Arg", "name type default help")

TRUE_WORDS = ("true", "1", "yes", "y")
FALSE_WORDS = ("false", "0", "no", "n")


def to_bool(text):
    low = text.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError("also 1/0, yes/no")  # parse_args says "expected True/False" before it


def optional_int(text):
    """An integer, or None (the words None / none / empty)."""
    if text.strip().lower() in ("none", ""):
        return None
    return int(text)


def optional_path(text):
    """A path, or None (the words None / none / empty)."""
    return None if text.strip().lower() in ("none", "") else text


def optional_int_or_latest(text):
    """An integer, None, or the word latest (resolved by the script to its newest checkpoint)."""
    if text.strip().lower() == "latest":
        return "latest"
    return optional_int(text)


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise ValueError()  # parse_args names the expected type
    return value


def positive_float(text):
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError()  # parse_args names the expected type
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError()  # parse_args names the expected type
    return value


def non_negative_float(text):
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError()  # parse_args names the expected type
    return value


def optional_positive_int(text):
    """A positive integer, or None (the words None / none / empty)."""
    value = optional_int(text)
    if value is not None and value <= 0:
        raise ValueError()  # parse_args names the expected type
    return value



# Keys that several scripts share, each defined once: its type, default and meaning are the same
# in every script that takes it (a script may word the help for its own use: ._replace(help=...)).
RESTORE_ITER = Arg("restore_iter", optional_int_or_latest, None, "checkpoint iteration (None or latest: the newest)")
THREADS = Arg("threads", optional_positive_int, None,
              "TFLite interpreter threads (None: one per CPU core; TF 1.15 cannot set them)")
RUNS = Arg("runs", positive_int, 5, "timed runs for each latency median (after one warm-up)")

def size_or_full(text):
    """A positive integer, or the word full (each image at its own size)."""
    if text.strip().lower() == "full":
        return "full"
    return positive_int(text)


class IntList(tuple):
    """Integers as given on the command line (e.g. seed=0,1,2); str() gives them back as typed."""

    def __str__(self):
        return ",".join(map(str, self))


def distinct_ints(text):
    """One integer or several, comma-separated and each once: 0 or 0,1,2."""
    try:
        values = [int(w) for w in text.split(",")]
    except ValueError:
        raise ValueError("not a list of integers")
    if len(set(values)) < len(values):
        raise ValueError("each value once")
    return IntList(values)


TYPE_NAMES = {str: "text", int: "integer", float: "number", to_bool: "True/False", size_or_full: "positive integer or full",
              optional_int: "integer or None", optional_path: "path or None", optional_int_or_latest: "integer, None or latest",
              optional_positive_int: "positive integer or None",
              positive_int: "positive integer", non_negative_int: "integer >= 0",
              positive_float: "positive finite number", non_negative_float: "finite number >= 0",
              distinct_ints: "an integer or several, comma-separated (e.g. 0,1,2)"}


def split_doc(doc):
    """(head, details) of a script's docstring: its summary and the indented example commands after
    it, then the rest."""
    lines = doc.strip().splitlines()
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))  # the summary's end
    while end < len(lines) and not lines[end].strip():
        end += 1
    if end < len(lines) and lines[end].startswith("    "):
        while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
            end += 1
    return "\n".join(lines[:end]).rstrip(), "\n".join(lines[end:]).strip()


def format_help(prog, table, doc=""):
    """The usual commands (the docstring's summary and examples), the keys' table, then the details."""
    head, details = split_doc(doc) if doc else ("", "")
    lines = [head, ""] if head else []
    lines.append("usage: python %s key=value ..." % prog)
    lines.append("")
    width = max(len(a.name) for a in table) + 2
    for a in table:
        lines.append("  %-*s default %-40s %s" % (width, a.name, "=" + str(a.default), a.help))
    lines.append("  %-*s %s" % (width, "help", "print this list and exit (also --help)"))
    if details:
        lines += ["", "details:", "", details]
    return "\n".join(lines)


def initials_match(word, keys):
    """[the key whose words' initials are `word`] (lr: learning_rate), where exactly one is; else []."""
    found = [k for k in keys if "_" in k and "".join(part[:1] for part in k.split("_")) == word.lower()]
    return found if len(found) == 1 else []


def parse_args(table, argv, prog=None, doc=""):
    """Parse `key=value` words against a table of Arg; return a dict with every key.

    Unknown keys, repeated keys, words without '=' and malformed values raise UsageError.
    `help=True`, `--help` or `-h` print the table and exit 0.
    """
    prog = prog or os.path.basename(sys.argv[0])
    known = {a.name: a for a in table}
    values = {a.name: a.default for a in table}
    seen = set()
    for word in argv:
        if word in ("--help", "-h"):
            print(format_help(prog, table, doc))
            sys.exit(0)
        if word.startswith("--") and word[2:].split("=", 1)[0] in known:
            key, _, text = word[2:].partition("=")
            if not text:
                following = argv[argv.index(word) + 1:argv.index(word) + 2]
                text = following[0] if following and "=" not in following[0] else "..."
            raise UsageError("argument %r: this script takes key=value words; write %s=%s" % (word, key, text))
        if "=" not in word:
            raise UsageError("argument %r is not of the form key=value (try help=True)" % word)
        key, text = word.split("=", 1)
        key = key.strip()
        if key == "help":
            try:
                wants = to_bool(text)
            except ValueError:
                raise UsageError("bad value %r for 'help': expected True or False" % text)
            if wants:
                print(format_help(prog, table, doc))
                sys.exit(0)
            continue
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1) or initials_match(key, known)
            hint = "; did you mean %r?" % close[0] if close else "; see help=True for the keys"
            raise UsageError("unknown argument %r%s" % (key, hint))
        if key in seen:
            raise UsageError("argument %r given twice" % key)
        seen.add(key)
        arg = known[key]
        try:
            values[key] = arg.type(text)
        except ValueError as err:
            detail = str(err) if arg.type not in (int, float, optional_int) else ""
            raise UsageError("bad value %r for %r: expected %s%s" % (
                text, key, TYPE_NAMES.get(arg.type, "a valid value"),
                " (" + detail + ")" if detail and "invalid literal" not in detail and "could not convert" not in detail else ""))
    return values


def given_keys(argv):
    """The keys a command line sets explicitly (to tell a default from a value the user chose)."""
    return {word.split("=", 1)[0].strip() for word in argv if "=" in word}
