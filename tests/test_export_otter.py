"""The Otter-Grader export's master notebook, in-process.

The real Otter (otter assign, otter run) runs in tests/test_exports_agree.py, which
grades the reference, the stubs and known bugs with it.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
import yaml

from autograder.builders.export_otter import master_notebook
from autograder.builders.notebooks import build_content
from autograder.cli import main
from autograder.core.assignments import LAYERS


@pytest.fixture(scope="module")
def content():
    return build_content(LAYERS)


def test_master_notebook_is_valid_and_configures_otter(content):
    notebook = nbformat.reads(json.dumps(master_notebook(content)), as_version=4)
    nbformat.validate(notebook)
    config_cell = notebook.cells[0]
    assert config_cell.cell_type == "raw" and config_cell.source.startswith("# ASSIGNMENT CONFIG")
    config = yaml.safe_load(config_cell.source)
    # The init cell defines `grader`, which the check cells otter assign adds call.
    assert config["name"] == "layers" and config["init_cell"] is True and config["export_cell"] is False
    questions = [yaml.safe_load(c.source) for c in notebook.cells if c.source.startswith("# BEGIN QUESTION")]
    assert [(q["name"], q["points"]) for q in questions] == [(part.name, part.points) for part in content.parts]


def test_one_test_case_per_pytest_case_with_its_points_and_visibility(content):
    notebook = master_notebook(content)
    configs, calls = [], []
    for cell in notebook["cells"]:
        if cell["source"].startswith('""" # BEGIN TEST CONFIG'):
            block, code = cell["source"].split('""" # END TEST CONFIG')
            configs.append(yaml.safe_load(block.split("\n", 1)[1]))
            calls.append(code.strip().splitlines()[-1])
    cases = [(test, case) for test in content.tests for case in test.cases]
    assert [(c["points"], c["hidden"]) for c in configs] == [(case.points, test.hidden) for test, case in cases]
    assert [call.split(",")[0].split("(")[1].strip(")") for call in calls] == [repr(case.node) for _, case in cases]
    assert sum(c["points"] for c in configs) == content.points


def test_cli_writes_notebook_and_requirements(tmp_path):
    assert main(["export-otter", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "layers" / "layers.ipynb").is_file()
    requirements = (tmp_path / "layers" / "requirements.txt").read_text()
    assert requirements == f"numpy=={np.__version__}\npytest=={pytest.__version__}\n"
