"""The shape of the tree: the root holds the scripts a user runs, the library lives in the package isp/;
scripts stand on the library and never import another script, nor does the library; test
files share helpers through conftest.py, never by importing each other. Read from the sources'
import statements (anywhere in a file, late imports too), not by running them."""
import ast
import os

from conftest import ROOT, run_script

TESTS = os.path.join(ROOT, "tests")
PACKAGE = os.path.join(ROOT, "isp")


def _imported(path):
    """Top-level names of every module a file imports."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _is_script(path):
    """A script runs as a program: it ends in `if __name__ == "__main__":`."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    return any(isinstance(node, ast.If) and "__main__" in ast.dump(node.test) for node in tree.body)


def _modules(folder):
    return {name[:-3]: os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".py")}


def _package_modules():
    """Every module of the library package isp/, by dotted name."""
    found = {}
    for dirpath, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                found[os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")] = path
    return found


def test_the_root_holds_only_scripts():
    """`ls` at the root shows what a user runs: every .py there is a script; the library is in isp/."""
    modules = _modules(ROOT)
    assert {"train_model", "test_model", "inference_tflite", "convert_tflite", "benchmark", "dng2png", "ckpt2pb"} <= set(modules)
    not_scripts = sorted(name for name, path in modules.items() if not _is_script(path))
    assert not not_scripts, "library modules at the root (they belong in isp/): %s" % not_scripts
    library = _package_modules()
    assert {"isp.utils", "isp.checkpoints", "isp.evaluate", "isp.tflite", "isp.model", "isp.bench.speed"} <= set(library)
    scripts_in_package = sorted(name for name, path in library.items() if _is_script(path))
    assert not scripts_in_package, "scripts inside the package (they belong at the root): %s" % scripts_in_package
    bench_outside = sorted(name for name in library if name.split(".")[-1].startswith("bench"))
    assert not bench_outside, "benchmark modules belong in isp/bench/: %s" % bench_outside


def test_nothing_imports_a_script():
    """Scripts stand on the library and never import each other; the library never imports a script."""
    scripts = set(_modules(ROOT))
    importers = dict(_modules(ROOT), **_package_modules())
    wrong = {name: sorted(_imported(path) & scripts - {name}) for name, path in sorted(importers.items())}
    assert not {k: v for k, v in wrong.items() if v}, "scripts imported by other modules: %s" % wrong


def test_test_files_do_not_import_each_other():
    tests = _modules(TESTS)
    for name, path in sorted(tests.items()):
        others = sorted(n for n in _imported(path) & set(tests) if n.startswith("test_") and n != name)
        assert not others, "%s imports %s (share helpers through conftest.py)" % (name, others)


def test_the_check_sees_a_script_importing_a_script(tmp_path):
    """The check itself: a script that imports another is caught, late imports too."""
    (tmp_path / "a.py").write_text('def f():\n    import b\n\n\nif __name__ == "__main__":\n    f()\n')
    (tmp_path / "b.py").write_text('if __name__ == "__main__":\n    pass\n')
    assert _is_script(str(tmp_path / "a.py")) and "b" in _imported(str(tmp_path / "a.py"))


def test_bad_arguments_fail_before_tensorflow_is_imported():
    """Imports sit at the top of each file, except TensorFlow's: an argument error stays fast."""
    scripts = sorted(name for name, path in _modules(ROOT).items() if _is_script(path))
    code = ("import runpy, sys\n"
            "sys.argv = [sys.argv[1], 'no_such_key=1']\n"
            "try:\n"
            "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit as err:\n"
            "    assert err.code == 2, err.code\n"
            "print('tensorflow' in sys.modules)\n")
    for name in scripts:
        proc = run_script("-c", code, os.path.join(ROOT, name + ".py"))
        assert proc.returncode == 0 and proc.stdout.strip() == "False", (name, proc.stdout, proc.stderr[-1000:])


def test_the_code_map_names_every_script_and_module():
    """docs/code.md's tables name each script and each library module with its folder, so the map
    a newcomer reads cannot fall behind the tree."""
    with open(os.path.join(ROOT, "docs", "code.md")) as f:
        doc = f.read()
    missing = ["%s.py" % name for name in _modules(ROOT) if "| `%s.py` |" % name not in doc]
    for dotted in _package_modules():
        folder, leaf = dotted.rsplit(".", 1)
        if leaf != "__init__" and "| `%s/` | `%s.py` |" % (folder.replace(".", "/"), leaf) not in doc:
            missing.append(dotted)
    assert not missing, "docs/code.md does not name: %s" % missing
