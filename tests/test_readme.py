"""README.md documents the scripts' keys."""
import os

import export_challenge
import make_demo_data
import test_model
import train_model
from conftest import ROOT


def test_readme_documents_every_key():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for table in (train_model.ARGS, test_model.ARGS, export_challenge.ARGS):
        for arg in table:
            assert "`%s`" % arg.name in readme, arg.name
    for arg in make_demo_data.ARGS[:3]:
        assert arg.name + "=" in readme
