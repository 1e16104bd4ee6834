"""Screenshots of chainrule serve for the README (docs/figures/serve-*.png), at 1280x800.

Run:  python tests/serve/make_screenshots.py   (needs Debian's chromium and playwright)
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from chainrule.serve import create_app

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "figures")
SHOTS = [  # (file, URL state, answer typed in practice mode)
    ("serve-seed-en.png", "spec=seed&step=1&stage=12&lang=en&mode=explore", None),
    ("serve-seed-zh.png", "spec=seed&step=1&stage=16&lang=zh&mode=explore", None),
    ("serve-mazur-en.png", "spec=mazur&step=1&stage=10&lang=en&mode=explore", None),
    ("serve-mazur-zh.png", "spec=mazur&step=1&stage=19&lang=zh&mode=explore", None),
    ("serve-practice-en.png", "spec=seed&step=1&stage=3&lang=en&mode=practice", "240"),
    ("serve-practice-zh.png", "spec=mazur&step=1&stage=2&lang=zh&mode=practice", "0.3"),
]


def main() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app("seed"), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/chromium",
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name, state, answer in SHOTS:
            page.goto(f"http://127.0.0.1:{port}/#{state}")
            page.wait_for_selector("body[data-ready='1']")
            page.reload()  # a fresh page for each state
            page.wait_for_selector("body[data-ready='1']")
            if answer is not None:
                field = page.locator("#practice input").first
                field.fill(answer)
                field.press("Enter")
                page.wait_for_selector("#practice .feedback:not(:empty)")
            page.evaluate("document.fonts.ready")
            page.wait_for_timeout(300)
            page.screenshot(path=os.path.join(OUT, name))
            print(os.path.join(OUT, name))
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
