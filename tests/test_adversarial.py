"""The adversarial suite: each attack of tests/adversarial/ against the whole grading pipeline.

Every attack submission is the reference with one function (or one file, or the
archive itself) replaced by the attack. Grading it must: write a valid results.json;
give zero to the tests of what the attack targets; still grade (and pass) the other
selected tests; list every selected test; end within the attack's time limit; leave
no process of the submission running; and leave no file the attack tried to plant, no
System V IPC object of its uid and no file of its uid in the host's world-writable
folders. See tests/adversarial/README.md for the ATTACK metadata.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from autograder.core.assignments import KIT_ROOT, LAYERS
from autograder.core.runner import run_tests
from autograder.grading.grade import grade_submission
from autograder.grading.intake import stage_submission
from autograder.sandbox import jail as sandbox_jail
from autograder.sandbox import process as sandbox_process
from autograder.sandbox.isolation import NAMESPACES_VARIABLE

ATTACK_FILES = sorted((Path(__file__).parent / "adversarial").glob("*.py"))
AS_ROOT = os.geteuid() == 0


def read_attack(path: Path) -> dict:
    """The ATTACK dict of an attack file, read as a literal: the attack's code never runs here."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "ATTACK" for target in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} has no ATTACK dict")


def _fill(text: str, places: dict[str, str]) -> str:
    for placeholder, value in places.items():
        text = text.replace(placeholder, value)
    return text


def build_submission(path: Path, attack: dict, folder: Path, places: dict[str, str]) -> Path:
    """The attack's submission: a zip of its entries, or the reference files with the attack appended to one."""
    reference = LAYERS.reference_dir
    if "archive" in attack:
        archive = folder / "submission.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for name, content in attack["archive"]:
                kind, _, value = content.partition(":")
                if kind == "reference":
                    bundle.writestr(name, (reference / value).read_text())
                elif kind == "text":
                    bundle.writestr(name, _fill(value, places))
                else:  # a symbolic link: mode bits in the upper half of external_attr, the target as content
                    info = zipfile.ZipInfo(name)
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    bundle.writestr(info, _fill(value, places))
        return archive
    submission = folder / "submission"
    submission.mkdir()
    for name in LAYERS.files:
        (submission / name).write_text((reference / name).read_text())
    if "symlinks" in attack:
        for name, target in attack["symlinks"].items():
            (submission / name).unlink()
            (submission / name).symlink_to(_fill(target, places))
        return submission
    for name in attack.get("files", [attack.get("file", "conv.py")]):
        target = submission / name
        target.write_text(target.read_text() + "\n\n# --- the attack ---\n" + _fill(path.read_text(), places))
    for name, text in attack.get("extra_files", {}).items():
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_text(_fill(text, places))
    return submission


@pytest.fixture
def leftovers(monkeypatch):
    """What a submission left when its sandbox lets go of its uid: processes, IPC objects, files (none, ever)."""
    found: list = []
    release, stop = sandbox_process.SlotLease.release, sandbox_process.WorkerProcess.stop

    def checked_release(self):
        found.extend(sandbox_process.processes_of_uid(self.uid))
        found.extend(sandbox_process.ipc_objects_of(self.uid))
        found.extend(sandbox_process.files_of(self.uid))
        release(self)

    def checked_stop(self, uid):
        survivors = stop(self, uid)
        if uid is None:
            found.extend(sandbox_process.processes_in_session(self.pid, self.marker))
        return survivors

    monkeypatch.setattr(sandbox_process.SlotLease, "release", checked_release)
    monkeypatch.setattr(sandbox_process.WorkerProcess, "stop", checked_stop)
    return found


def test_every_attack_file_declares_its_attack():
    assert len(ATTACK_FILES) >= 20
    for path in ATTACK_FILES:
        attack = read_attack(path)
        assert attack["select"] and attack["fails"], path.name


def _cgroups_here() -> bool:
    group, _ = (
        sandbox_process.SandboxCgroup.create(f"cnnkit-probe-{os.getpid()}", 1 << 30, 8) if AS_ROOT else (None, "")
    )
    if group is not None:
        group.close()
    return group is not None


@pytest.fixture
def host_files():
    """Files of the host a sandboxed submission must not reach, each readable by every user.

    carried: what an earlier submission left in /run/lock; other_kit: another copy of the
    kit, outside the one grading; other_submission: another submission, staged for grading.
    """
    lock = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    carried = lock / f"cnnkit-carried-{os.getpid()}.py"
    carried.write_text("CARRIED = True\n")
    carried.chmod(0o644)
    # Beside this kit, not in a temporary folder: where other clones of it usually are.
    other_kit = Path(tempfile.mkdtemp(prefix=".cnnkit-other-copy-", dir=KIT_ROOT.parent))
    other_kit.chmod(0o755)
    (other_kit / "reference" / "layers").mkdir(parents=True)
    shutil.copyfile(LAYERS.reference_dir / "conv.py", other_kit / "reference" / "layers" / "conv.py")
    for folder in (other_kit / "reference", other_kit / "reference" / "layers"):
        folder.chmod(0o755)
    other = stage_submission(LAYERS.reference_dir, LAYERS)
    yield {"carried": carried, "other_kit": other_kit, "other_submission": other.directory}
    carried.unlink(missing_ok=True)
    shutil.rmtree(other_kit, ignore_errors=True)
    other.cleanup()


@pytest.mark.parametrize("path", ATTACK_FILES, ids=[path.stem for path in ATTACK_FILES])
def test_attack_scores_zero_on_its_target_and_nothing_else_breaks(path, tmp_path, leftovers, host_files, monkeypatch):
    attack = read_attack(path)
    if attack.get("root_only") and not AS_ROOT:
        pytest.skip("this attack is only contained when the grader runs as root")
    if attack.get("needs_cgroup") and not _cgroups_here():
        pytest.skip("no control group can be made here, so the sandbox has no limit as a whole")
    if attack.get("needs_seccomp") and sandbox_jail._seccomp is None:
        pytest.skip(f"no seccomp filter here: {sandbox_jail._seccomp_missing}")
    if attack.get("reduced"):
        monkeypatch.setenv(NAMESPACES_VARIABLE, "0")
    out = tmp_path / "results" / "results.json"
    marker = tmp_path / "planted-by-the-attack"
    places = {
        "__RESULTS__": str(out),
        "__MARKER__": str(marker),
        "__REFERENCE__": str(LAYERS.reference_dir),
        "__CARRIED__": str(host_files["carried"]),
        "__OTHER_KIT__": str(host_files["other_kit"]),
        "__OTHER_SUBMISSION__": str(host_files["other_submission"]),
    }
    submission = build_submission(path, attack, tmp_path, places)

    started = time.monotonic()
    report = grade_submission(
        submission,
        LAYERS,
        out,
        call_timeout=attack.get("call_timeout", 2.0),
        time_budget=attack.get("time_budget", 60.0),
        pytest_args=("-k", attack["select"]),
    )
    seconds = time.monotonic() - started

    results = json.loads(out.read_text())  # valid JSON, in Gradescope's schema
    assert set(results) >= {"score", "execution_time", "output", "tests"}
    assert results["score"] == report.score == sum(test["score"] for test in results["tests"])
    for test in results["tests"]:
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}
    attacked = [t for t in report.tests if any(part in t.nodeid for part in attack["fails"])]
    others = [t for t in report.tests if t not in attacked]
    assert attacked, f"the selection ran none of the attacked tests: {[t.nodeid for t in report.tests]}"
    assert all(t.score == 0 and t.status == "failed" for t in attacked), [(t.nodeid, t.status) for t in attacked]
    assert others or attack.get("all_fail"), "no selected test is left to show that the rest is still graded"
    assert all(t.status == "passed" for t in others), [(t.nodeid, t.output[:300]) for t in others]
    if attack.get("all_fail"):  # nothing passes, so check that nothing went missing either
        selected = run_tests(LAYERS, LAYERS.reference_dir, hidden=True, extra_args=("-k", attack["select"]))
        assert sorted(t.nodeid for t in report.tests) == sorted(t.nodeid for t in selected.tests)
    assert seconds < attack.get("max_seconds", 120), f"grading took {seconds:.1f} s"
    failure_text = "\n".join(t.output for t in attacked)
    for message in attack.get("messages", []):
        assert message in failure_text, failure_text[:3000]
    for message in attack.get("report_messages", []):
        assert message in results["output"], results["output"]
    assert not leftovers, f"what the submission left (processes, IPC objects, files): {leftovers}"
    assert not marker.exists(), f"the attack planted {marker}"
    assert not Path("/tmp/cnnkit-zip-slip-marker.py").exists()
    assert not (tmp_path / "cnnkit-zip-slip-marker.py").exists()
