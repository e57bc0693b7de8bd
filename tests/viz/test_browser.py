"""Notebook 07 in a real browser: Voilà serves it on localhost, headless Debian Chromium (driven by Playwright)
drags a slider, and the image on screen changes to what the widget computes for the slider's new value.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``; ``.ci/run`` installs
it) and the test extra (voila, playwright). Deselect it with ``-m "not browser"`` or set ``VAEINFO_SKIP_BROWSER=1``;
it never skips by itself. With ``VAEINFO_SCREENSHOTS=DIR`` the before/after screenshots are also copied to DIR
(``VAEINFO_SCREENSHOTS=figures/screenshots`` makes the README's
``figures/screenshots/07_live_traversal_screenshot.png``; not in ``figures/`` itself, where ``NN_*`` files are notebook NN's figures, which a failed run of it deletes).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # headless: Playwright adds --headless
SETUP_HINT = ("install Debian's Chromium with `apt-get install chromium` (as root; .ci/run does it), "
              "or skip the browser test explicitly: `pytest -m \"not browser\"` or `VAEINFO_SKIP_BROWSER=1`")
# The smoke profile's data with a VAE whose top factors carry information (beta 4, 8 epochs on 2,000 images: a few
# factors >= 0.5 nats after seconds of training; the smoke model's factors are all collapsed, moving one changes nothing).
PARAMETERS = {"interactive": True, "widgets_celeba": False, "widgets_n_images": 4, "widgets_n_show": 4,
              "widgets_debounce": 0.05, "beta": 4.0, "epochs": 8}
START_TIMEOUT_S = 60
EXECUTE_TIMEOUT_S = 300  # the notebook trains its VAE before the page is complete

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sync_playwright():
    """Playwright's sync API, after checking that the browser is there (fail with the fix, or skip on request)."""
    if os.environ.get("VAEINFO_SKIP_BROWSER", "") not in ("", "0"):
        pytest.skip("VAEINFO_SKIP_BROWSER is set: the real-browser test is skipped on request")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {SETUP_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: `.venv/bin/pip install -e '.[test]'`, or " + SETUP_HINT)
    return sync_playwright


@pytest.fixture(scope="module")
def served(mnist_root, tmp_path_factory):
    """Notebook 07 with smoke parameters and interactive=True, served by Voilà on a free localhost port.

    Yields (url, folder): the results JSON of the notebook's run appears in ``folder/out/results/``.
    """
    import papermill as pm

    folder = tmp_path_factory.mktemp("voila")
    params = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    params.update(PARAMETERS, data_dir=str(mnist_root), cache_dir=str(folder / "cache"), out_dir=str(folder / "out"))
    notebook = folder / "07_live_traversal.ipynb"
    pm.execute_notebook(str(REPO / "notebooks" / "07_live_traversal.ipynb"), str(notebook), parameters=params,
                        prepare_only=True, kernel_name="python3", progress_bar=False)
    port = _free_port()
    with open(folder / "voila.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "voila", notebook.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
             "--show_tracebacks=True"],
            cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"},
        )
        try:
            _wait_for_port(port, server, folder / "voila.log")
            yield f"http://127.0.0.1:{port}/", folder
        finally:
            _stop(server)


@pytest.fixture(scope="module")
def page(served, sync_playwright, tmp_path_factory):
    """The served notebook open in headless Chromium, after the notebook has run to its end."""
    url, folder = served
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(url, timeout=EXECUTE_TIMEOUT_S * 1000)
            results = folder / "out" / "results" / "07_live_traversal.json"
            page.wait_for_selector(".vaeinfo-traversal .vaeinfo-decoded", timeout=EXECUTE_TIMEOUT_S * 1000)
            assert results.is_file(), f"the notebook did not finish; Voilà's log:\n{_tail(folder / 'voila.log')}"
            yield page
        finally:
            context.close()


def test_dragging_a_factor_slider_changes_the_decoded_image(page, served, mnist_root, tmp_path):
    decoded = ".vaeinfo-traversal .vaeinfo-decoded"
    slider = page.locator(".vaeinfo-traversal .vaeinfo-factor").first
    before = _shown_png(page, decoded)
    shots = _screenshot(page.locator(".vaeinfo-traversal"), tmp_path, "before")
    _drag(page, slider, to=0.9)
    value = float(slider.locator(".widget-readout").inner_text())
    assert value == pytest.approx(-3.0 + 0.9 * 6.0, abs=0.3), "the handle follows the mouse to 90 % of -3 ... 3"
    expected = _python_view(served[1], mnist_root)
    expected.sliders[0].value = value
    want = _pixels(expected.image.value)
    after = _wait_for_png(page, decoded, lambda shown: shown.shape == want.shape and np.abs(shown - want).max() <= 1)
    shots += _screenshot(page.locator(".vaeinfo-traversal"), tmp_path, "after")
    np.testing.assert_allclose(after, want, rtol=0, atol=1.0,
                               err_msg=f"the browser must show the widget's image for the slider value {value}")
    assert not np.array_equal(_pixels(before), after), "moving the top factor must change the decoded image"
    _publish(shots)


def test_dragging_k_to_zero_shows_the_decode_of_the_prior_mean(page, tmp_path):
    decoded = ".vaeinfo-topk .vaeinfo-decoded"
    before = _pixels(_shown_png(page, decoded))
    _drag(page, page.locator(".vaeinfo-topk .vaeinfo-k"), to=0.0)
    assert page.locator(".vaeinfo-topk .vaeinfo-k .widget-readout").inner_text() == "0"
    after = _wait_for_png(page, decoded, _same_bottom_row)
    _screenshot(page.locator(".vaeinfo-topk"), tmp_path, "topk")
    assert _same_bottom_row(after), "k = 0 decodes z = 0 for every image: the bottom row repeats one image"
    np.testing.assert_array_equal(after[: len(after) // 2], before[: len(before) // 2], err_msg="originals stay")
    assert not np.array_equal(before, after)


def _same_bottom_row(pixels: np.ndarray) -> bool:
    """Whether the top-k view's bottom row (its decoded images) shows one image repeated."""
    bottom = np.split(pixels[len(pixels) // 2:], PARAMETERS["widgets_n_show"], axis=1)
    return all(np.array_equal(b, bottom[0]) for b in bottom)


# ----------------------------------------------------------------------------- helpers


def _python_view(folder: Path, mnist_root: Path):
    """The notebook's traversal widget rebuilt in this process from its checkpoint and results (debounce 0)."""
    from vaeinfo.data.mnist import load_mnist
    from vaeinfo.training.checkpoint import load_model
    from vaeinfo.viz.widgets import traversal

    record = json.loads((folder / "out" / "results" / "07_live_traversal.json").read_text())["results"]
    smoke = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    images = load_mnist("validation", mnist_root, n=smoke["n_validation"]).images[:PARAMETERS["widgets_n_images"]]
    model = load_model(record["model_key"], cache_dir=folder / "cache")
    view = traversal(model, images, np.asarray(record["mi_nats"]), debounce=0)
    assert view.factors.tolist() == record["factors"]
    return view


def _drag(page, slider, to: float) -> None:
    """Drag the slider's handle with the mouse to the fraction ``to`` (0 ... 1) of its track."""
    handle = slider.locator(".noUi-handle").bounding_box()
    track = slider.locator(".noUi-target").bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + to * track["width"], y, steps=15)
    page.mouse.up()


def _shown_png(page, selector: str) -> bytes:
    """The bytes behind the <img> that the page shows (ipywidgets serves them as a blob: URL)."""
    data = page.evaluate("""async (selector) => {
        const response = await fetch(document.querySelector(selector).src);
        return Array.from(new Uint8Array(await response.arrayBuffer()));
    }""", selector)
    return bytes(data)


def _wait_for_png(page, selector: str, accept, timeout_s: float = 30) -> np.ndarray:
    """The image's pixels once ``accept(pixels)`` holds, or the last ones seen after ``timeout_s``.

    The image updates after the debounce and a round trip to the kernel; during a drag it may first show an
    intermediate value.
    """
    deadline = time.monotonic() + timeout_s
    while not accept(pixels := _pixels(_shown_png(page, selector))) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return pixels


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)), dtype=np.float64)


def _screenshot(locator, folder: Path, name: str) -> list[Path]:
    path = folder / f"07_live_traversal_{name}.png"
    locator.screenshot(path=str(path))
    assert path.stat().st_size > 1000
    return [path]


def _publish(shots: list[Path]) -> None:
    """Copy the before/after screenshots to $VAEINFO_SCREENSHOTS when set (after: the README's screenshot)."""
    target = os.environ.get("VAEINFO_SCREENSHOTS")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    before, after = shots
    shutil.copyfile(before, Path(target) / "07_live_traversal_screenshot_before.png")  # not save_grids' names
    shutil.copyfile(after, Path(target) / "07_live_traversal_screenshot.png")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    """Return once the server accepts connections; fail with its log if it exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Voilà exited with status {server.returncode}:\n{_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"Voilà did not listen on port {port} within {START_TIMEOUT_S} s:\n{_tail(log)}")


def _stop(server: subprocess.Popen) -> None:
    """Stop the Voilà server we started (its process group: it shuts its kernels down on SIGTERM)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.is_file() else "(no log)"
