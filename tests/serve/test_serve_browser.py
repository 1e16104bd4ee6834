"""chainrule serve end to end in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright. Skipped only when no Chromium is installed (``.ci/run`` installs it).

The numbers checked on the page are the seed document's hand-worked step (180, 7200, 120, 4800,
9600, 0.928, 0.452, 0.404) and hand algebra for an edited weight."""

import os
import shutil

import pytest

try:  # the test extra installs playwright; where Chromium is installed a missing playwright is a failure
    from playwright import sync_api
except ImportError:  # pragma: no cover
    sync_api = None

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or "")
                 if p and os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    if sync_api is None:
        pytest.fail("Chromium is installed but playwright is not: pip install -e '.[test]'")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server_url):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # a refused edit is answered with status 400 and shown inline; any other console error fails the test
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 400" not in m.text else None)

    def goto(hash_=""):
        pg.goto(f"{server_url}/{'#' + hash_ if hash_ else ''}")
        pg.wait_for_selector("body[data-ready='1']", timeout=30_000)

    pg.goto_app = goto
    pg.js_errors = errors
    yield pg
    ctx.close()
    assert not errors, errors


def stage(pg) -> int:
    return pg.evaluate("window.chainruleState().view.stage")


def click_and_wait(pg, selector):
    before = pg.evaluate("JSON.stringify([window.chainruleState().view.step, window.chainruleState().view.stage])")
    pg.click(selector)
    pg.wait_for_function(
        "b => JSON.stringify([window.chainruleState().view.step, window.chainruleState().view.stage]) !== b", arg=before)


def text_of(pg, key) -> str:
    """The text of the diagram element that shows the quantity ``key``."""
    return pg.locator(f'#diagram g[data-keys~="{key}"]').first.text_content()


def test_full_step_of_the_seed(page):
    page.goto_app("spec=seed")
    assert stage(page) == 0
    assert "60" not in text_of(page, "forward[0].a[0]")            # nothing computed yet
    click_and_wait(page, "#btn-forward")                             # layer 1
    assert "60" in text_of(page, "forward[0].a[0]")
    click_and_wait(page, "#btn-forward")                             # layer 2
    assert "180" in text_of(page, "forward[1].a[0]")
    assert "<mn>180</mn>" in page.inner_html("#current")            # derive's line, as MathML
    click_and_wait(page, "#btn-loss")
    assert "7200" in text_of(page, "loss")
    click_and_wait(page, "#btn-backward")                            # layer 2, then one weight at a time
    assert "120" in text_of(page, "dL_doutput[0]")
    assert "7200" in text_of(page, "grad.W2[0][0]")
    click_and_wait(page, "#btn-backward")                            # layer 1
    assert "4800" in text_of(page, "grad.W1[0][2]")
    assert "9600" in text_of(page, "grad.W1[1][2]")
    assert "0.928" not in page.text_content("#diagram")
    click_and_wait(page, "#btn-update")
    assert "0.928" in text_of(page, "params_after.W2[0][0]")
    assert "0.452" in text_of(page, "params_after.W1[0][2]")
    assert "0.404" in text_of(page, "params_after.W1[1][2]")
    assert "0.928" in page.inner_html("#current")
    assert "Symmetric initialisation" in page.inner_text("#warnings")
    state = page.evaluate("location.hash")
    assert "stage=16" in state and "spec=seed" in state                # the whole state lives in the URL
    # Next and Back move one stage; Next at the end starts step 2 with the updated weights
    click_and_wait(page, "#btn-next")
    assert page.evaluate("window.chainruleState().view.step") == 2 and stage(page) == 0
    assert "0.928" in text_of(page, "params_before.W2[0][0]")
    click_and_wait(page, "#btn-back")
    assert stage(page) == 16


def test_url_restores_the_state(page):
    page.goto_app("spec=seed&step=1&stage=3&lang=en&mode=explore")
    assert stage(page) == 3 and "7200" in text_of(page, "loss")


def test_edit_a_weight(page):
    page.goto_app("spec=seed&stage=2")
    page.click('#diagram [data-edit="init.weights[0][0][0]"]')
    page.fill("#editor", "1")
    page.press("#editor", "Enter")
    page.wait_for_function("window.chainruleState().view.spec.init.weights[0][0][0] === 1")
    assert stage(page) == 2
    assert "80" in text_of(page, "forward[0].a[0]")                  # z_1 = 1·40 + 0.5·80
    assert "200" in text_of(page, "forward[1].a[0]")                 # y' = 80 + 60 + 60
    assert "%22init%22" in page.evaluate("location.hash")            # the edited spec is in the URL
    # a bad value is refused inline, the page keeps working
    page.click('#diagram [data-edit="init.weights[0][0][1]"]')
    page.fill("#editor", "abc")
    page.press("#editor", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "expected a number" in page.inner_text("#error")


def test_practice_half_forgotten(page):
    page.goto_app("spec=seed&stage=3&mode=practice")
    box = page.locator("#practice")
    assert box.is_visible()
    field = box.locator("input").first
    assert field.get_attribute("aria-label") == "∂L/∂y'"
    assert "120" not in text_of(page, "dL_doutput[0]")               # hidden: the learner predicts it
    field.fill("240")
    field.press("Enter")
    page.wait_for_selector("#practice .feedback.wrong")
    feedback = box.locator(".feedback").first.text_content()
    assert "½" in feedback and "forgotten" in feedback
    assert "1 wrong" in box.inner_text()
    field.fill("120")
    field.press("Enter")
    page.wait_for_function("window.chainruleState().view.stage === 4")
    assert "120" in text_of(page, "dL_doutput[0]")
    assert "1 right" in page.inner_text("#practice")
    page.locator("#practice button.reveal").first.click()             # reveal δ: the next stage opens
    page.wait_for_function("window.chainruleState().view.stage === 5")
    assert "1 revealed" in page.inner_text("#practice")


def test_chinese(page):
    page.goto_app("spec=seed")
    page.click("#lang-zh")
    page.wait_for_function("window.chainruleState().view.lang === 'zh'")
    assert page.inner_text("#btn-forward") == "前向传播"
    assert page.inner_text("#btn-backward") == "反向传播"
    assert page.inner_text("#btn-update") == "梯度更新"
    assert "输入层" in page.text_content("#diagram") and "输出层" in page.text_content("#diagram")
    click_and_wait(page, "#btn-forward")
    assert page.inner_text("#stage-label").startswith("一、前向传播")
    assert "lang=zh" in page.evaluate("location.hash")
    # the Chinese font is the one the server ships, not a system font
    page.evaluate("document.fonts.ready")
    assert page.evaluate("""[...document.fonts].some(f => f.family.includes('CR CJK') && f.status === 'loaded')""")


def test_export_download(page):
    page.goto_app("spec=seed")
    page.click("#export-button")
    with page.expect_download() as info:
        page.click('[data-export="toml"]')
    assert info.value.suggested_filename == "seed.toml"


def _layout(pg):
    return pg.evaluate("""() => {
        const box = (e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].map(Math.round); };
        return {
            panels: ['#diagram', '#current', '#history', '#loss-curve', '#btn-next', '#btn-play', '#practice']
                .map((s) => box(document.querySelector(s))),
            neurons: [...document.querySelectorAll('#diagram .neuron circle')].map(box),
            labels: [...document.querySelectorAll('#diagram .wlabel rect, #diagram .box rect')].map(box),
        };
    }""")


def test_no_layout_jumps_while_stepping(page):
    page.goto_app("spec=mazur")
    first = _layout(page)
    for _ in range(6):
        click_and_wait(page, "#btn-next")
        assert _layout(page) == first
    click_and_wait(page, "#btn-step")
    assert _layout(page) == first


def test_play_and_pause(page):
    page.goto_app("spec=seed")
    page.evaluate("document.getElementById('speed').value = '150'")
    page.click("#btn-play")
    assert "Pause" in page.inner_text("#btn-play")
    page.wait_for_function("window.chainruleState().view.stage >= 3", timeout=30_000)
    page.click("#btn-play")
    assert "Play" in page.inner_text("#btn-play")
    reached = stage(page)
    page.wait_for_timeout(600)
    assert stage(page) == reached


def test_keys(page):
    page.goto_app("spec=seed")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("window.chainruleState().view.stage === 1")
    page.keyboard.press("l")                                           # to the loss
    page.wait_for_function("window.chainruleState().view.stage === 3")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("window.chainruleState().view.stage === 2")
    page.keyboard.press("s")                                           # the whole step
    page.wait_for_function("window.chainruleState().view.stage === 16")
    page.keyboard.press("r")
    page.wait_for_function("window.chainruleState().view.stage === 0")


def test_settings_and_shipped_specs(page):
    page.goto_app("spec=seed")
    page.click("#settings summary")
    page.fill("#set-layers", "2, 2, 1")
    page.press("#set-layers", "Enter")
    page.wait_for_function("JSON.stringify(window.chainruleState().view.layers) === '[2,2,1]'")
    page.locator("#set-activations select").first.select_option("sigmoid")
    page.wait_for_function("window.chainruleState().view.activations[0] === 'sigmoid'")
    page.fill("#set-lr", "0.5")
    page.press("#set-lr", "Enter")
    page.wait_for_function("window.chainruleState().view.lr === 0.5")
    page.fill("#set-layers", "2, 40, 1")                              # over the page's limit: refused inline
    page.press("#set-layers", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "expected 1..12" in page.inner_text("#error")
    page.select_option("#spec-select", "mazur")
    page.wait_for_function("window.chainruleState().view.name === 'mazur'")
    assert "sigmoid" in page.text_content("#diagram")
