"""chainrule serve's HTTP API through Starlette's test client: every endpoint, bad specs, size limits,
Host and Origin checks. Expected numbers come from the seed's hand-worked example, Matt Mazur's
published worked example, hand algebra, or PyTorch run side by side."""

import io
import json
import math

import pytest
from serve_helpers import BASE

from chainrule.serve import view as view_mod
from chainrule.spec import load_spec, parse_spec

SEED_STEP1 = {  # the seed document's hand-worked step
    "forward[1].a[0]": 180, "loss": 7200, "dL_doutput[0]": 120, "grad.W2[0][0]": 7200,
    "grad.W1[0][2]": 4800, "grad.W1[1][2]": 9600,
    "params_after.W2[0][0]": 0.928, "params_after.W1[0][2]": 0.452, "params_after.W1[1][2]": 0.404,
}
MAZUR = {  # Matt Mazur, "A Step by Step Backpropagation Example": w5..w8 are W2 (from, to), w1..w4 W1
    "forward[0].a[0]": 0.593269992, "forward[1].a[0]": 0.75136507, "forward[1].a[1]": 0.772928465,
    "loss": 0.298371109,
    "params_after.W2[0][0]": 0.35891648, "params_after.W2[1][0]": 0.408666186,
    "params_after.W2[0][1]": 0.511301270, "params_after.W2[1][1]": 0.561370121,
    "params_after.W1[0][0]": 0.149780716, "params_after.W1[1][0]": 0.19956143,
    "params_after.W1[0][1]": 0.24975114, "params_after.W1[1][1]": 0.29950229,
}


def post(client, path, body, headers=None):
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})})


def values(client, **body):
    r = post(client, "/api/view", body)
    assert r.status_code == 200, r.text
    return r.json()


# ----------------------------------------------------------------------------- page and files
def test_index_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    for name in ("app.js", "diagram.js", "i18n.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/static/../view.py").status_code == 404


def test_fonts_come_from_packages(client):
    from fontTools.ttLib import TTFont

    cjk = client.get("/fonts/cjk.otf")
    assert cjk.status_code == 200 and cjk.headers["content-type"] == "font/otf"
    font = TTFont(io.BytesIO(cjk.content))
    cmap = font.getBestCmap()
    for ch in "前向传播反向损失值梯度更新输入层练习":
        assert ord(ch) in cmap, ch
    assert font["name"].getDebugName(1) == "Noto Sans CJK SC"
    assert len(cjk.content) < 2_000_000  # a subset, not the 20 MB collection
    assert client.get("/fonts/latin.ttf").status_code == 200
    assert client.get("/fonts/math-italic.ttf").status_code == 200
    assert client.get("/fonts/..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/fonts/system.ttf").status_code == 404


def test_config(client):
    c = client.get("/api/config").json()
    assert c["spec"] == "seed" and "mazur" in c["specs"] and c["limits"]["neurons"] == view_mod.MAX_NEURONS


# ----------------------------------------------------------------------------- view
def test_seed_step_numbers(client):
    v = values(client, spec="seed", stage="last")
    assert v["stage"] == v["n_stages"]
    for key, expected in SEED_STEP1.items():
        assert v["values"][key]["v"] == pytest.approx(expected, rel=1e-12), key
    assert v["values"]["params_after.W1[1][2]"]["t"] == "0.404"
    assert any("ymmetric" in w for w in v["warnings"])
    assert [s["phase"] for s in v["stages"]][:4] == ["forward", "forward", "loss", "backward"]


def test_stages_reveal_in_derivation_order(client):
    v0 = values(client, spec="seed", stage=0)
    assert "forward[0].z[0]" not in v0["values"] and "params_before.W1[0][0]" in v0["values"]
    assert all("mathml" not in line for line in v0["lines"])
    v1 = values(client, spec="seed", stage=1)
    assert v1["values"]["forward[0].z[0]"]["v"] == 60 and "forward[1].z[0]" not in v1["values"]
    shown = [line for line in v1["lines"] if "mathml" in line]
    assert shown and all(line["stage"] == 1 for line in shown)
    assert shown[0]["mathml"].startswith("<math") and "<mn>60</mn>" in shown[0]["mathml"]
    v3 = values(client, spec="seed", stage=3)
    assert v3["stages"][2]["phase"] == "loss" and v3["values"]["loss"]["v"] == 7200
    assert "dL_doutput[0]" not in v3["values"] and v3["losses"] == [{"step": 1, "v": 7200.0, "t": "7200"}]
    # a = z without an activation: one written line for both keys
    assert v1["lines"][0]["keys"] == ["forward[0].z[0]", "forward[0].a[0]"]


def test_mazur_published_numbers_and_chinese(client):
    v = values(client, spec="mazur", stage="last", lang="zh")
    for key, expected in MAZUR.items():
        assert v["values"][key]["v"] == pytest.approx(expected, abs=5e-9), key
    assert v["stages"][0]["label"].startswith("一、前向传播")
    assert any(s["label"].startswith("三、反向传播") for s in v["stages"])


def test_later_steps_match_pytorch():
    torch = pytest.importorskip("torch")
    w1 = torch.full((3, 2), 0.5, dtype=torch.float64, requires_grad=True)
    w2 = torch.full((1, 3), 1.0, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[40.0, 80.0]], dtype=torch.float64)
    opt = torch.optim.SGD([w1, w2], lr=1e-5)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        out = x @ w1.T @ w2.T
        loss = 0.5 * ((out - 60.0) ** 2).sum()
        loss.backward()
        if len(losses) == 3:
            grad_w1 = w1.grad.T.clone()
        losses.append(loss.item())
        opt.step()
    v = view_mod.view("seed", step=4, stage="last")
    assert [p["v"] for p in v["losses"]] == pytest.approx(losses, rel=1e-12)
    assert v["values"]["grad.W1[1][2]"]["v"] == pytest.approx(grad_w1[1, 2].item(), rel=1e-12)
    # momentum keeps optimizer state: the page derives every step, and still agrees with PyTorch
    raw = view_mod.canonical(load_spec("seed"))
    raw.update(optimizer="momentum", momentum=0.9)
    w1 = torch.full((3, 2), 0.5, dtype=torch.float64, requires_grad=True)
    w2 = torch.full((1, 3), 1.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w1, w2], lr=1e-5, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        loss = 0.5 * ((x @ w1.T @ w2.T - 60.0) ** 2).sum()
        loss.backward()
        opt.step()
    v = view_mod.view(raw, step=3, stage="last")
    assert v["values"]["params_after.W1[0][0]"]["v"] == pytest.approx(w1[0, 0].item(), rel=1e-12)


@pytest.mark.parametrize("body, fragment", [
    ({"spec": "nosuch"}, "not a shipped spec"),
    ({"spec": "/etc/passwd"}, "not a shipped spec"),
    ({"spec": 5}, "expected a shipped spec's name or a spec table"),
    ({"spec": {"layers": [2, 1]}}, "init.weights"),
    ({"spec": {"layers": [2, 1], "init": {"weights": 1}, "data": {"x": [1, 2], "y": [1]}, "bogus": 1}}, "key 'bogus'"),
    ({"spec": {"layers": [2, 13, 1], "init": {"seed": 0}, "data": {"x": [1, 2], "y": [1]}}}, "12 the page draws"),
    ({"spec": {"layers": [2, 3, 3, 3, 3, 3, 1], "init": {"seed": 0}, "data": {"x": [1, 2], "y": [1]}}}, "weight layers"),
    ({"spec": {"layers": [2, 1], "init": {"weights": 1}, "data": {"x": [[1, 2]] * 9, "y": [[1]] * 9}}}, "9 samples"),
    ({"spec": {"layers": [2, 1], "init": {"weights": [[[1], [1]]]}, "data": {"x": [1, 2, 3], "y": [1]}}}, "data.x"),
    ({"spec": "seed", "stage": 99}, "stage: expected 0..16"),
    ({"spec": "seed", "stage": "x"}, "stage: expected a whole number"),
    ({"spec": "seed", "step": 0}, "step: expected 1..1000"),
    ({"spec": "seed", "step": 1.5}, "step: expected a whole number"),
    ({"spec": "seed", "lang": "fr"}, "lang: expected one of en, zh"),
])
def test_bad_view_requests_are_400_with_a_message(client, body, fragment):
    r = post(client, "/api/view", body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]


def test_bad_bodies(client):
    r = client.post("/api/view", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post("/api/view", content=b"[1, 2]")
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = client.post("/api/view", content=b"\xff\xfe")
    assert r.status_code == 400
    assert client.get("/api/view").status_code == 405


def test_size_limit_is_the_spec_file_limit(client):
    big = b'{"spec": "' + b"x" * (view_mod.MAX_BYTES + 10) + b'"}'
    r = client.post("/api/view", content=big)
    assert r.status_code == 413 and "1,000,000 bytes" in r.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"spec": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}'

    r = client.post("/api/view", content=chunks())
    assert r.status_code == 413


def test_no_input_gives_a_500(client):
    bodies = [{}, {"spec": None}, {"spec": []}, {"spec": {}}, {"spec": {"layers": "abc"}}, {"spec": "seed", "step": None},
              {"spec": "seed", "stage": [1]}, {"spec": "seed", "practice": "yes"},
              {"spec": {"layers": [2, 1], "init": {"weights": [[1e308], [1e308]]}, "lr": 1e308,
                        "data": {"x": [1e308, 1e308], "y": [1]}}, "stage": "last", "step": 3},
              {"spec": "seed", "op": "set", "path": "init.weights[9][9][9]", "value": "1"},
              {"spec": "seed", "op": "set", "path": "init.weights[0]", "value": "1"},
              {"spec": "seed", "op": "layers", "value": "2,3"}, {"spec": "seed", "op": "layers", "value": [2, "x", 1]},
              {"spec": "seed", "answers": {"loss": [1]}}, {"spec": "seed", "answers": []},
              {"spec": "seed", "what": None}, {"spec": "seed", "what": "png", "step": -1}]
    for path in ("/api/view", "/api/edit", "/api/grade", "/api/export"):
        for body in bodies:
            r = post(client, path, body)
            assert r.status_code < 500, (path, body, r.text)
            assert "application/json" in r.headers["content-type"] or r.status_code == 200, (path, body)


def test_overflow_is_reported_not_crashed(client):
    raw = {"layers": [2, 1], "init": {"weights": [[[1e200], [1e200]]]}, "lr": 1e100, "data": {"x": [1e200, 1e200], "y": [1]}}
    r = post(client, "/api/view", {"spec": raw, "stage": "last", "step": 2})
    assert r.status_code == 200
    v = r.json()
    assert any("inf" in w or "NaN" in w or "overflow" in w.lower() for w in v["warnings"]), v["warnings"]
    assert v["values"]["loss"]["t"] in ("inf", "nan")


# ----------------------------------------------------------------------------- Host and Origin
def test_host_header_must_be_this_server(client):
    assert client.get("/api/config").status_code == 200
    assert client.get("/api/config", headers={"Host": "localhost:8000"}).status_code == 200
    r = client.get("/api/config", headers={"Host": "evil.example:8000"})
    assert r.status_code == 400
    r = post(client, "/api/view", {"spec": "seed"}, headers={"Host": "attacker.test"})
    assert r.status_code == 400


def test_origin_of_another_site_is_refused(client):
    r = post(client, "/api/view", {"spec": "seed"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "may not use this server" in r.json()["error"]
    r = post(client, "/api/edit", {"spec": "seed", "op": "set", "path": "lr", "value": "1"},
             headers={"Origin": "null"})
    assert r.status_code == 403
    r = post(client, "/api/view", {"spec": "seed"}, headers={"Origin": "http://127.0.0.1:8001"})
    assert r.status_code == 403  # another port is another origin
    r = post(client, "/api/view", {"spec": "seed"}, headers={"Origin": BASE})
    assert r.status_code == 200


def test_allowed_hosts_option():
    from starlette.testclient import TestClient

    from chainrule.serve import create_app

    app = create_app("seed", allowed_hosts=["127.0.0.1", "localhost", "lab.local"])
    with TestClient(app, base_url="http://lab.local:8000") as c:
        assert c.get("/api/config").status_code == 200
        assert c.get("/api/config", headers={"Host": "other.local"}).status_code == 400


# ----------------------------------------------------------------------------- edits
def edit(client, **body):
    r = post(client, "/api/edit", {"spec": "seed", **body})
    return r


def test_edit_a_weight_recomputes_forward(client):
    r = edit(client, op="set", path="init.weights[0][0][0]", value="1")
    assert r.status_code == 200, r.text
    spec = r.json()["spec"]
    assert spec["init"]["weights"][0][0] == [1.0, 0.5, 0.5]
    v = values(client, spec=spec, stage=2)
    assert v["values"]["forward[0].z[0]"]["v"] == 1 * 40 + 0.5 * 80  # hand algebra
    assert v["values"]["forward[1].a[0]"]["v"] == 80 + 60 + 60
    assert parse_spec(spec).weights[0][0, 0] == 1.0  # the spec validator reads it back


@pytest.mark.parametrize("body, fragment", [
    ({"op": "set", "path": "init.weights[0][0][0]", "value": "abc"}, "expected a number"),
    ({"op": "set", "path": "init.weights[0][0][0]", "value": "inf"}, "finite"),
    ({"op": "set", "path": "init.weights[5][0][0]", "value": "1"}, "no such entry"),
    ({"op": "set", "path": "name", "value": "1"}, "cannot edit"),
    ({"op": "set", "path": "__class__", "value": "1"}, "cannot edit"),
    ({"op": "set", "path": "lr", "value": "-1"}, "key 'lr'"),
    ({"op": "choose", "path": "activations[0]", "value": "swish"}, "expected one of"),
    ({"op": "choose", "path": "activations[7]", "value": "relu"}, "2 weight layers"),
    ({"op": "choose", "path": "loss", "value": "bce"}, "sigmoid"),
    ({"op": "layers", "value": [2, 20, 1]}, "expected 1..12"),
    ({"op": "layers", "value": [2]}, "layer sizes"),
    ({"op": "explode"}, "op: expected set, choose or layers"),
])
def test_bad_edits(client, body, fragment):
    r = edit(client, **body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]


def test_structural_edits(client):
    spec = edit(client, op="layers", value=[2, 4, 1]).json()["spec"]
    assert spec["layers"] == [2, 4, 1]
    assert len(spec["init"]["weights"][0]) == 2 and len(spec["init"]["weights"][0][0]) == 4
    assert len({round(w, 12) for w in spec["init"]["weights"][0][0]}) > 1  # drawn by the engine, not constant
    spec = edit(client, op="layers", value=[3, 2, 2, 2]).json()["spec"]
    assert spec["data"]["x"] == [40.0, 80.0, 0.0] and spec["data"]["y"] == [60.0, 0.0]
    spec = edit(client, op="choose", path="activations[0]", value="sigmoid").json()["spec"]
    assert spec["activations"] == ["sigmoid", "none"]
    spec = edit(client, op="set", path="lr", value="0.001").json()["spec"]
    assert spec["lr"] == 0.001
    spec = edit(client, op="set", path="data.x[1]", value="−2").json()["spec"]
    assert spec["data"]["x"] == [40.0, -2.0]


# ----------------------------------------------------------------------------- practice
def grade(client, answers, step=1, spec="seed"):
    return post(client, "/api/grade", {"spec": spec, "step": step, "answers": answers})


def test_grade_half_forgotten(client):
    r = grade(client, {"loss": "7200", "dL_doutput[0]": "240"})
    assert r.status_code == 200, r.text
    marks = r.json()["marks"]
    assert marks["loss"]["status"] == "right"
    assert marks["dL_doutput[0]"]["status"] == "wrong"
    assert "½" in marks["dL_doutput[0]"]["cause"] and "forgotten" in marks["dL_doutput[0]"]["cause"]
    assert "correct" not in marks["dL_doutput[0]"]  # the page reveals only on request


def test_grade_feedback_in_chinese(client):
    r = post(client, "/api/grade", {"spec": "seed", "step": 1, "answers": {"dL_doutput[0]": "240"}, "lang": "zh"})
    cause = r.json()["marks"]["dL_doutput[0]"]["cause"]
    assert "½" in cause and "forgotten" not in cause and any("\u4e00" <= ch <= "\u9fff" for ch in cause)
    bad = post(client, "/api/grade", {"spec": "seed", "step": 1, "answers": {"loss": "1"}, "lang": "fr"})
    assert bad.status_code == 400 and "lang" in bad.json()["error"]


def test_grade_carried_error(client):
    marks = grade(client, {"dL_doutput[0]": "240", "grad.W2[0][0]": "14400"}).json()["marks"]
    assert marks["grad.W2[0][0]"]["status"] == "carried"
    assert marks["dL_doutput[0]"]["status"] == "wrong"


@pytest.mark.parametrize("answers, fragment", [
    ({"loss": "abc"}, "expected a number"),
    ({"bogus[0]": "1"}, "not a quantity of this step"),
    ({}, "answers"),
    ("7200", "answers"),
])
def test_bad_answers(client, answers, fragment):
    r = grade(client, answers)
    assert r.status_code == 400 and fragment in r.json()["error"]


# ----------------------------------------------------------------------------- exports
def export(client, what, **kw):
    return post(client, "/api/export", {"spec": "seed", "what": what, **kw})


def test_export_spec_toml_reads_back(client, tmp_path):
    r = export(client, "toml")
    assert r.status_code == 200 and 'filename="seed.toml"' in r.headers["content-disposition"]
    path = tmp_path / "seed.toml"
    path.write_bytes(r.content)
    spec, seed = load_spec(str(path)), load_spec("seed")
    assert spec.layers == seed.layers and spec.lr == seed.lr and spec.loss == seed.loss
    for a, b in zip(spec.weights, seed.weights):
        assert (a == b).all()
    assert (spec.x == seed.x).all() and (spec.y == seed.y).all()
    edited = edit(client, op="set", path="init.weights[1][2][0]", value="0.123456789012345").json()["spec"]
    r = post(client, "/api/export", {"spec": edited, "what": "toml"})
    path.write_bytes(r.content)
    assert load_spec(str(path)).weights[1][2, 0] == 0.123456789012345


def test_export_derivation_code_figure(client):
    md = export(client, "md").content.decode()
    assert "7200" in md and "0.928" in md
    assert "\\begin{document}" in export(client, "latex").content.decode()
    html = export(client, "html", lang="zh").content.decode()
    assert "<math" in html and "前向传播" in html
    for to, marker in (("python", "learning_rate"), ("numpy", "import numpy"), ("torch", "import torch")):
        r = export(client, to)
        assert r.status_code == 200 and marker in r.content.decode(), to
    svg = export(client, "svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    png = export(client, "png", step=2)
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and "seed-step2.png" in png.headers["content-disposition"]
    r = export(client, "exe")
    assert r.status_code == 400 and "what: expected one of" in r.json()["error"]


def test_finite_json_for_non_finite_numbers():
    from chainrule.serve.app import _finite

    assert _finite({"a": [math.inf, -math.inf, math.nan, 1.5]}) == {"a": ["inf", "-inf", "nan", 1.5]}


def test_cross_entropy_targets_and_batches(client):
    v = values(client, spec="softmax", stage=0)
    raw = v["spec"]
    assert v["samples"] == len(raw["data"]["x"]) > 1
    cls = raw["data"]["y"][0]
    targets = [v["values"][o["target"]]["v"] for o in v["net"]["outputs"]]
    assert targets == [1.0 if j == cls else 0.0 for j in range(raw["layers"][-1])]  # one-hot of sample 1's class
    assert all("[" not in n["symbol"] for layer in v["net"]["layers"] for n in layer)  # no sample index in labels
    assert v["net"]["layers"][1][0]["z"] == "forward[0].z[0][0]"                     # the first sample's keys
    labels = [s["label"] for s in v["stages"] if s["phase"] == "forward"]
    assert labels[0].endswith("Sample 1") and labels[2].endswith("Sample 2")
    spec = edit(client, spec="softmax", op="set", path="data.y[0]", value="2").json()["spec"]
    assert spec["data"]["y"][0] == 2
    r = edit(client, spec="softmax", op="set", path="data.y[0]", value="1.5")
    assert r.status_code == 400 and "whole number" in r.json()["error"]


@pytest.mark.filterwarnings("ignore:Glyph")  # the figure's title writes the odd name as it is
def test_export_file_name_is_safe(client):
    raw = view_mod.canonical(load_spec("seed"))
    raw["name"] = 'x"\r\nSet-Cookie: a=b; ../../etc/名'
    for what in ("toml", "md", "python", "svg"):
        r = post(client, "/api/export", {"spec": raw, "what": what})
        assert r.status_code == 200, (what, r.text)
        disposition = r.headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
        assert "set-cookie" not in {k.lower() for k in r.headers}


def test_derivation_lines_are_derives_own_mathml(client):
    from chainrule import derive
    from chainrule.explain.render import _mathml

    v = values(client, spec="seed", stage=12)
    line = next(item for item in v["lines"] if item["stage"] == 12)
    entry = next(e for e in derive("seed").entries if e["key"] == line["keys"][0])
    assert line["keys"] == ["grad.W1[0][2]"] and line["text"] == entry["expression"]
    assert line["mathml"] == _mathml(entry["latex"], "block")
