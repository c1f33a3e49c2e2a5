"""Hostile inputs (tests/hostile_catalogue.py) for every op of the op table, its module mirrors,
the optimizer and the raw ops, run in a subprocess so that a crash cannot take pytest down with it.

The subprocess must exit normally (no segfault or abort) within TIMEOUT_S, and for each case:
- where torchext raises, it raises RuntimeError, ValueError, TypeError or IndexError: the class
  native raises, where native raises (or the case's expect_type, where native's own Python code
  trips with another class, e.g. TypeError for None as a tensor), and the message names the op and
  the argument; a message identical to native's (the same check, inherited from torch.nn or
  autograd) is good too;
- where native raises, torchext raises (it accepts nothing native refuses);
- where native computes a result, torchext computes the same one, unless the case is one torchext
  deliberately refuses (`unsupported`: a dtype it has no kernel for, tensors on two devices).
"""
import json
import os
import subprocess
import sys

import pytest

import hostile_catalogue
from torchext.optable import BY_NAME, module_mirrors

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 300  # about 25 s normally; generous for sanitizer builds
GOOD_TYPES = {"RuntimeError", "ValueError", "TypeError", "IndexError", "NotImplementedError"}


@pytest.fixture(scope="module")
def outcomes():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([HERE, os.path.dirname(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, os.path.join(HERE, "hostile_catalogue.py")], capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=env, cwd=HERE)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    started = [line["start"] for line in lines if "start" in line]
    results = {line["name"]: line for line in lines if "name" in line}
    assert proc.returncode == 0, (f"the catalogue process died (return code {proc.returncode}) in case "
                                  f"{started[-1] if started else None!r}:\n{proc.stderr[-3000:]}")
    assert lines and lines[-1] == {"done": len(hostile_catalogue.CASES)}
    return results


def test_catalogue_size():
    """The catalogue covers every op of the op table, its module mirrors and the optimizer."""
    ops = {case.op for case in hostile_catalogue.CASES}
    assert set(BY_NAME) <= ops, f"table ops without hostile cases: {sorted(set(BY_NAME) - ops)}"
    modules = {case.name.split("/")[0][3:] for case in hostile_catalogue.CASES if case.name.startswith("nn.")}
    mirrors = {cls.__name__ for cls in module_mirrors()}
    assert mirrors <= modules, sorted(mirrors - modules)
    assert "SGD" in ops
    assert len(hostile_catalogue.CASES) >= 400


@pytest.mark.parametrize("name", [case.name for case in hostile_catalogue.CASES])
def test_hostile_input(outcomes, name):
    result = outcomes[name]
    ours, native = result["ours"], result["native"]
    if ours["ok"]:
        assert native is not None, "torchext accepted an input it must refuse"
        assert native["ok"], f"torchext accepted what native refuses ({native['type']}: {native['message'][:200]})"
        assert result["equal"], "torchext's result differs from native's"
        return
    raised = f"{ours['type']}: {ours['message'][:300]}"
    if native is not None and native["ok"]:
        assert result["unsupported"], f"native computes this but torchext raised {raised}"
    assert ours["type"] in GOOD_TYPES, raised
    if result["expect_type"]:
        assert ours["type"] == result["expect_type"], raised
    elif native is not None and not native["ok"]:
        assert native["type"] in ours["python_types"] or ours["type"] in native["python_types"], (
            f"native raises {native['type']} but torchext {raised}")
        if ours["message"] == native["message"]:
            return
    message = ours["message"].lower()
    assert result["op"].lower() in message, f"message does not name the op {result['op']!r}: {raised}"
    assert any(arg.lower() in message for arg in result["args"]), (
        f"message names none of {result['args']}: {raised}")
