"""``chainrule serve`` on the command line: registered like the other commands, loopback by default,
bad input reported in one line with exit status 2."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

pytest.importorskip("uvicorn")

from chainrule.cli import main

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def test_help_lists_serve(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "serve" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--host" in out and "127.0.0.1" in out and "--open" in out


@pytest.mark.parametrize("argv, fragment", [
    (["serve", "nosuch"], "not a shipped spec"),
    (["serve", "--port", "70000"], "--port must be between 0 and 65535"),
])
def test_bad_input_is_one_line(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule serve: error:") and fragment in err and err.count("\n") == 1


def test_page_limits_are_checked_at_start(tmp_path, capsys):
    spec = tmp_path / "wide.toml"
    spec.write_text('layers = [2, 20, 1]\n[init]\nseed = 0\n[data]\nx = [1, 2]\ny = [1]\n')
    assert main(["serve", str(spec)]) == 2
    assert "20 neurons is more than the 12 the page draws" in capsys.readouterr().err


def test_server_binds_loopback_and_answers(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", "serve", "mazur", "--port", "0", "--lang", "zh"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("chainrule serve: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/config", timeout=30) as r:
            config = json.loads(r.read())
        assert config["spec"] == "mazur" and config["lang"] == "zh"
        req = urllib.request.Request(url + "api/view", data=b'{"stage": "last"}', method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            v = json.loads(r.read())
        assert v["name"] == "mazur" and v["values"]["loss"]["v"] == pytest.approx(0.298371109, abs=5e-9)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
