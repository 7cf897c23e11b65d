"""README.md and docs/ document the scripts as they are: every key, commands that run, links that
lead somewhere."""
import glob
import importlib
import os
import re

from conftest import ROOT

import export_challenge
import make_demo_data
import test_model
import train_model

# The README's budgets (lines), each with its reason; detail past them belongs in docs/:
MAX_README_LINES = 500  # read in one sitting
MAX_SECTION_LINES = 120  # a section past this is a reference: docs/ with a link from here
MAX_FIRST_STEPS_LINES = 220  # contents + set-up, walkthrough and own phone: what a newcomer follows first
# `python <script>.py words...` inside a line (after joining `\` continuations): the words end at
# a backtick, a comment or a shell operator
COMMAND = re.compile(r"(?<![\w$-])python (\w+\.py)((?: +[^ `\n]+)*)")
SHELL_STOP = {"#", ">", ">>", "&", "&&", "|", ";", "2>&1"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
ARGPARSE_SCRIPTS = {"ckpt2pb.py"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def readme():
    return read(os.path.join(ROOT, "README.md"))


def documents():
    """README.md and docs/*.md: {path relative to ROOT: text}."""
    paths = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return {p: read(os.path.join(ROOT, p)) for p in paths}


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text):
    in_code = False
    found = set()
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(anchor(line.lstrip("#")))
    return found


def commands(text):
    """(script, [words]) for every `python <script>.py ...` in text."""
    text = text.replace("\\\n", " ")
    for m in COMMAND.finditer(text):
        words = []
        for word in m.group(2).split():
            if word in SHELL_STOP or word.startswith("#"):
                break
            words.append(word)
        yield m.group(1), words


def test_readme_documents_every_key():
    text = readme()
    for table in (train_model.ARGS, test_model.ARGS, export_challenge.ARGS):
        for arg in table:
            assert "`%s`" % arg.name in text, arg.name
    for arg in make_demo_data.ARGS[:3]:
        assert arg.name + "=" in text


def test_readme_is_short_with_contents_and_the_two_commands():
    text = readme()
    assert len(text.splitlines()) <= MAX_README_LINES
    parts = re.split(r"^(?=## )", text, flags=re.M)[1:]
    long = ["%s (%d lines)" % (p.splitlines()[0], len(p.splitlines())) for p in parts
            if len(p.splitlines()) > MAX_SECTION_LINES]
    assert not long, long
    first = [p for p in parts if re.match(r"## (Contents|[123]\. )", p)]
    assert len(first) == 4 and len("".join(first).splitlines()) <= MAX_FIRST_STEPS_LINES
    contents = text.split("## Contents", 1)
    assert len(contents) == 2 and text.index("## Contents") < 2000, "a table of contents near the top"
    listed = set(re.findall(r"\]\(#([^)]+)\)", contents[1].split("\n## ", 1)[0]))
    sections = {anchor(h) for h in re.findall(r"^## (.+)$", text, re.M)} - {"contents"}
    assert listed == sections, "the table of contents lists every section"
    for line in ("bash demo.sh        #", "bash run_tests.sh   #", ". .venv/bin/activate"):
        assert line in text, line
    assert ".venv/bin/python " not in text, "one way to call Python: `python` in the activated venv"


def test_every_python_command_names_a_script_and_its_keys():
    seen = 0
    for path, text in documents().items():
        for script, words in commands(text):
            assert os.path.isfile(os.path.join(ROOT, script)), "%s: %s does not exist" % (path, script)
            table = getattr(importlib.import_module(script[:-3]), "ARGS", None)
            if table is None:  # the seed's ckpt2pb.py parses with argparse: only its name is checked
                assert script in ARGPARSE_SCRIPTS, "%s has no ARGS table" % script
                continue
            keys = {arg.name for arg in table} | {"help"}
            words = iter(words)
            for word in words:
                if word in ("...", "…") or word == "--help":
                    continue
                if word.startswith("--"):
                    key = word[2:]
                    next(words, None)
                else:
                    assert "=" in word, "%s: python %s ... %r is not key=value" % (path, script, word)
                    key = word.split("=", 1)[0]
                assert key in keys, "%s: python %s takes no key %r" % (path, script, key)
                seen += 1
    assert seen > 50


def test_every_shell_script_and_local_link_exists():
    for path, text in documents().items():
        for script in re.findall(r"\bbash ([\w./-]+\.sh)\b", text):
            assert os.path.isfile(os.path.join(ROOT, script)), "%s: %s" % (path, script)
        folder = os.path.dirname(os.path.join(ROOT, path))
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, fragment = target.partition("#")
            full = os.path.normpath(os.path.join(folder, file)) if file else os.path.join(ROOT, path)
            assert os.path.exists(full), "%s links to %s" % (path, target)
            if fragment:
                assert fragment in anchors(read(full)), "%s links to %s" % (path, target)


def test_licence_is_apache_2_and_the_readme_names_what_it_does_not_cover():
    """LICENSE holds the Apache License 2.0 whole; the README states it and names every picture in
    docs/ made from the packages' photos (the JPEGs: the plots are PNGs) as outside it."""
    text = read(os.path.join(ROOT, "LICENSE"))
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    for needle in ("1. Definitions.", "4. Redistribution.", "9. Accepting Warranty or Additional Liability.",
                   "END OF TERMS AND CONDITIONS", "http://www.apache.org/licenses/LICENSE-2.0"):
        assert needle in text, needle
    note = readme().split("**Licence.**", 1)
    assert len(note) == 2 and "[Apache License 2.0](LICENSE)" in note[1]
    note = note[1].split("\n\n", 1)[0]
    pictures = sorted(glob.glob(os.path.join(ROOT, "docs", "*.jpg")))
    assert pictures
    for path in pictures:
        assert "`docs/%s`" % os.path.basename(path) in note, "%s: made from the packages' photos?" % path
