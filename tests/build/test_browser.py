"""The built site as a reader sees it: headless Chromium opens every page of _build/html.

`make build` must have run first (CI runs it before `make test`). For each page of the
table of contents, served from a loopback HTTP server, the browser must show no console
error, make no request that leaves the machine (MathJax, fonts and images are the site's
own), render every formula (MathJax ran; no raw ``$...$`` or TeX error left), load every
image, and offer launch links (Colab, Binder) that open a notebook of this repository.
A screenshot of each page is saved under ``_build/screenshots/`` for review.

Without _build/html, Chromium or chromedriver the tests skip with the reason, except when
``MMIDS_REQUIRE_BROWSER=1`` (set by .ci/run): then they fail.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

import book
from conftest import ROOT

HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CONFIG = book.config()
PAGES = book.toc_files()
REQUIRED = os.environ.get("MMIDS_REQUIRE_BROWSER") == "1"
MATHJAX_TIMEOUT = 60  # seconds for MathJax to typeset one page


def unavailable(reason):
    """Skip, or fail where the browser test is required (CI)."""
    if REQUIRED:
        pytest.fail(f"{reason} (MMIDS_REQUIRE_BROWSER=1: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site():
    """Base URL of _build/html, served over loopback for the duration of the module."""
    if not (HTML / "index.html").is_file():
        unavailable("no built site in _build/html: run `make build` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by the system's chromedriver (Debian: chromium-driver)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        unavailable(
            "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (make venv installs requirements.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(MATHJAX_TIMEOUT)
    yield driver
    driver.quit()


def network_requests(driver):
    """URLs the browser requested since the last call (Chrome's performance log)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


# Runs in the page: wait for MathJax (loaded, deferred, on pages with formulas) to typeset.
WAIT_FOR_MATHJAX = """
const [timeout, done] = [arguments[0], arguments[arguments.length - 1]];
const start = Date.now();
(function poll() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done("typeset"), (err) => done("error: " + err));
  } else if (Date.now() - start < timeout) {
    setTimeout(poll, 100);
  } else {
    done(`not loaded after ${timeout} ms (window.MathJax: ${JSON.stringify(mj)})`);
  }
})();
"""

# Runs in the page: what a reader sees, in numbers.
INSPECT = r"""
const main = document.querySelector("main") || document.body;
const prose = main.cloneNode(true);
prose.querySelectorAll("pre, code, script, style, mjx-container, .cell_output")
     .forEach((el) => el.remove());
return {
  images: Array.from(document.images).map((img) => ({
    src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth})),
  math: document.querySelectorAll(".math").length,
  typeset: document.querySelectorAll(".math mjx-container").length,
  texErrors: Array.from(document.querySelectorAll("mjx-merror"))
                  .map((el) => el.getAttribute("data-mjx-error") || el.textContent),
  prose: prose.innerText,
  launch: Array.from(document.querySelectorAll("a[href]"))
               .map((a) => a.href)
               .filter((h) => /colab\.research\.google\.com|mybinder\.org/.test(h)),
};
"""


def page_url(site, page):
    return f"{site}/{page}.html"


def is_local(url, site):
    return url.startswith(site + "/") or url.startswith(("data:", "blob:", "about:"))


def notebook_of_launch_link(url):
    """The repository path a Colab or Binder link opens, checked against _config.yml."""
    repo = CONFIG["repository"]
    org, name = urlsplit(repo["url"]).path.strip("/").split("/")
    branch = repo.get("branch", "main")
    parts = urlsplit(url)
    if parts.netloc == "colab.research.google.com":
        prefix = f"/github/{org}/{name}/blob/{branch}/"
        assert parts.path.startswith(prefix), f"Colab link to another repository: {url}"
        return parts.path[len(prefix) :]
    assert parts.path == f"/v2/gh/{org}/{name}/{branch}", (
        f"Binder link to another repository: {url}"
    )
    (urlpath,) = parse_qs(parts.query)["urlpath"]
    ui = {"classic": "tree/", "jupyterlab": "lab/tree/"}[
        CONFIG["launch_buttons"].get("notebook_interface", "classic")
    ]
    assert urlpath.startswith(ui), f"Binder link opens {urlpath!r}, not a notebook: {url}"
    return urlpath[len(ui) :]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_offline_with_math_images_and_launch_links(site, browser, page):
    network_requests(browser)  # discard what earlier pages requested or logged
    browser.get_log("browser")
    browser.get(page_url(site, page))
    has_math = browser.execute_script('return document.querySelectorAll(".math").length > 0')
    mathjax = (
        browser.execute_async_script(WAIT_FOR_MATHJAX, (MATHJAX_TIMEOUT - 5) * 1000)
        if has_math
        else "no formulas"
    )
    seen = browser.execute_script(INSPECT)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    outside = [u for u in network_requests(browser) if not is_local(u, site)]
    # After the checks above: resizing the window for the screenshot is not a reader's doing.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _save_full_page_screenshot(browser, SCREENSHOTS / (page.replace("/", "__") + ".png"))

    assert not errors, f"console errors on {page}: {errors}"
    assert not outside, f"{page} requests resources from outside the site: {outside}"

    if seen["math"]:
        assert mathjax == "typeset", f"{page} has formulas but MathJax did not run: {mathjax}"
        assert seen["typeset"] == seen["math"], (
            f"{page}: MathJax typeset {seen['typeset']} of {seen['math']} formulas"
        )
    assert not seen["texErrors"], f"TeX errors on {page}: {seen['texErrors']}"
    raw = re.findall(r"\$[^$\n]+\$|\\\(.+?\\\)|\\\[.+?\\\]", seen["prose"])
    assert not raw, f"unrendered math on {page}: {raw[:5]}"

    broken = [img["src"] for img in seen["images"] if not img["complete"] or img["width"] == 0]
    assert not broken, f"images that did not load on {page}: {broken}"

    if page.startswith("chapters/"):
        hosts = {urlsplit(u).netloc for u in seen["launch"]}
        assert hosts == {"colab.research.google.com", "mybinder.org"}, (
            f"{page}: expected Colab and Binder launch links, found {seen['launch']}"
        )
    for url in seen["launch"]:
        path = notebook_of_launch_link(url)
        assert path.endswith(".ipynb"), f"{page}: launch link opens {path}, not a notebook"
        assert (ROOT / path).is_file(), f"{page}: launch link opens {path}, not in the repository"
        assert path == f"{page}.ipynb", f"{page}: launch link opens another page's notebook {path}"


def _save_full_page_screenshot(driver, path, width=1280, max_height=20000):
    # A window as tall as the page: one plain screenshot shows all of it.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height, max_height))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 900)


class _ExternalResources(HTMLParser):
    """Collects the URLs of scripts, stylesheets and images that a page loads from the web."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        url = {
            "script": attrs.get("src"),
            "img": attrs.get("src"),
            "iframe": attrs.get("src"),
            "link": attrs.get("href")
            if attrs.get("rel") in ("stylesheet", "preload", "icon", "modulepreload")
            else None,
        }.get(tag)
        if url and re.match(r"(https?:)?//", url):
            self.found.append(f"<{tag}> {url}")


def test_no_built_page_loads_scripts_styles_or_images_from_the_web():
    # Static check of every HTML file of the site, including those no toc entry lists.
    if not (HTML / "index.html").is_file():
        unavailable("no built site in _build/html: run `make build` first")
    offenders = {}
    for path in sorted(HTML.rglob("*.html")):
        parser = _ExternalResources()
        parser.feed(path.read_text(encoding="utf-8"))
        if parser.found:
            offenders[str(path.relative_to(HTML))] = parser.found
    assert not offenders, f"pages that hot-link scripts, styles or images: {offenders}"
    # axe-core is served for the audit only; no page loads it (nor MathJax's parts one by one).
    loaded = {
        str(path.relative_to(HTML))
        for path in HTML.rglob("*.html")
        if re.search(
            r'<script[^>]+src="[^"]*(axe\.min\.js|mathjax/(?!tex-chtml\.js))',
            path.read_text(encoding="utf-8"),
        )
    }
    assert not loaded, f"pages that load axe-core or MathJax components directly: {sorted(loaded)}"
    assert (HTML / "_static" / CONFIG["sphinx"]["config"]["mathjax_path"]).is_file()


# Sphinx-proof boxes and citations (issue 10): what the page's source asks for, as rendered.
NUMBERED_PRF = re.compile(
    r"^(?:`{3,}|:{3,})\{prf:(definition|theorem|lemma|proposition|corollary)\}[^\n]*\n"
    r"((?:[ \t]*:[\w-]+:[^\n]*\n)*)",
    re.MULTILINE,
)
CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`[^`]+`")
MATH_PAGES = [
    page
    for page in PAGES
    if (ROOT / f"{page}.md").is_file()
    and (
        NUMBERED_PRF.search((ROOT / f"{page}.md").read_text(encoding="utf-8"))
        or CITE_ROLE.search((ROOT / f"{page}.md").read_text(encoding="utf-8"))
    )
]

# Runs in the page: the sphinx-proof boxes (title, id, size) and the links of the citations.
INSPECT_MATH = r"""
const main = document.querySelector("main") || document.body;
return {
  boxes: Array.from(main.querySelectorAll("div.proof.admonition")).map((div) => ({
    id: div.id,
    title: (div.querySelector(".admonition-title") || {innerText: ""}).innerText.trim(),
    height: div.getBoundingClientRect().height})),
  citations: Array.from(main.querySelectorAll("a[href]"))
                  .map((a) => a.href).filter((h) => /\/references\.html#/.test(h)),
};
"""


# ---------------------------------------------------------------- accessibility (WCAG 2.1 AA)

# axe-core (npm, pinned in package-lock.json) is served by the site itself, like MathJax:
# `make build` copies node_modules/axe-core/axe.min.js to _build/static/axe/, which
# _config.yml lists in html_static_path. The pages do not load it; the test injects it.
AXE = "_static/axe/axe.min.js"
# The rules of WCAG 2.0 and 2.1, levels A and AA. Nothing is excluded: a violation that
# comes from the theme is fixed in _templates/, _assets/ or _ext/ (see README, "Accessibility").
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MODES = ["light", "dark"]

# Runs in the page: load the site's axe-core, then audit the whole document.
RUN_AXE = """
const [src, tags, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
function audit() {
  axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
     .then((r) => done({violations: r.violations.map((v) => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary)}))}),
           (err) => done({error: String(err)}));
}
if (window.axe) { audit(); } else {
  const script = document.createElement("script");
  script.src = src;
  script.onload = audit;
  script.onerror = () => done({error: "could not load " + src});
  document.head.appendChild(script);
}
"""

# Runs in the page: the text alternative of every image, and of every figure its caption.
IMAGE_TEXTS = r"""
return {
  images: Array.from(document.querySelectorAll("img")).map((img) => ({
    src: img.getAttribute("src"), alt: img.getAttribute("alt"),
    inFigure: !!img.closest("figure"),
    // textContent, not innerText: a figure in a closed solution is hidden, not absent.
    caption: (img.closest("figure")?.querySelector("figcaption")?.textContent || "")
             .replace(/\s+/g, " ").trim()})),
};
"""


@pytest.mark.parametrize("page", MATH_PAGES)
def test_numbered_statements_render_and_citations_link_to_the_references(site, browser, page):
    source = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    labels = [
        re.search(r":label:\s*(\S+)", options).group(1)
        for _, options in NUMBERED_PRF.findall(source)
        if ":label:" in options and ":nonumber:" not in options
    ]
    browser.get(page_url(site, page))
    seen = browser.execute_script(INSPECT_MATH)
    boxes = {box["id"]: box for box in seen["boxes"]}
    for label in labels:
        assert label in boxes, f"{page}: no rendered box for {label}; boxes: {list(boxes)}"
        box = boxes[label]
        assert re.match(r"(Definition|Theorem|Lemma|Proposition|Corollary) \d+", box["title"]), (
            f"{page}: the box {label} has no numbered title: {box['title']!r}"
        )
        assert box["height"] > 0, f"{page}: the box {label} is not displayed"
    if CITE_ROLE.search(source):
        assert seen["citations"], f"{page} cites works, but no link leads to references.html"
        browser.get(page_url(site, "references"))
        missing = [
            url
            for url in seen["citations"]
            if not browser.execute_script(
                "return document.getElementById(arguments[0]) !== null",
                urlsplit(url).fragment,
            )
        ]
        assert not missing, f"{page}: citations that lead to no entry of references.html: {missing}"


def bad_alt(alt):
    """Why a text alternative tells a screen-reader user nothing, or None if it may."""
    if alt is None or not alt.strip():
        return "empty"
    if re.search(r"\.(png|jpe?g|gif|svg|webp)\b", alt, re.IGNORECASE) or "/" in alt:
        return "a file name"
    if re.search(r"\b[0-9a-f]{16,}\b", alt, re.IGNORECASE):
        return "a hash"
    return None


def open_in_mode(browser, url, mode):
    """Open a page in a colour mode, stored where the theme's switch stores the reader's choice."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    browser.execute_script(
        "localStorage.setItem('mode', arguments[0]); localStorage.setItem('theme', arguments[0]);",
        mode,
    )
    browser.refresh()
    theme = "return document.readyState === 'complete' && document.documentElement.dataset.theme"
    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script(theme) == mode,
        message=f"{url}: the theme did not switch to the {mode} mode",
    )
    if browser.execute_script('return document.querySelectorAll(".math").length > 0'):
        browser.execute_async_script(WAIT_FOR_MATHJAX, (MATHJAX_TIMEOUT - 5) * 1000)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("page", PAGES)
def test_page_passes_the_wcag_21_aa_audit(site, browser, page, mode):
    open_in_mode(browser, page_url(site, page), mode)
    result = browser.execute_async_script(RUN_AXE, f"{site}/{AXE}", WCAG_TAGS)
    assert "error" not in result, f"axe-core did not run on {page}: {result['error']}"
    report = [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])} elements): {v['help']}\n    "
        + "\n    ".join(v["nodes"][:5])
        for v in result["violations"]
    ]
    assert not report, f"WCAG 2.1 AA violations on {page} in {mode} mode:\n" + "\n".join(report)


@pytest.mark.parametrize("page", PAGES)
def test_every_image_has_a_meaningful_text_alternative_and_every_figure_a_caption(
    site, browser, page
):
    browser.get(page_url(site, page))
    images = browser.execute_script(IMAGE_TEXTS)["images"]
    bad = [f"{img['src']}: alt is {bad_alt(img['alt'])}" for img in images if bad_alt(img["alt"])]
    assert not bad, f"images without a meaningful text alternative on {page}: {bad}"
    # Every output image of a page (a figure of the run) is a numbered figure with a caption.
    outputs = [img for img in images if "_images/" in (img["src"] or "")]
    uncaptioned = [img["src"] for img in outputs if not img["inFigure"] or not img["caption"]]
    assert not uncaptioned, f"figures without a caption on {page}: {uncaptioned}"
    numbered = [img for img in outputs if not re.match(r"Fig\. \d+", img["caption"])]
    assert not numbered, f"figures without a number on {page}: {[i['src'] for i in numbered]}"


# What a keyboard user must reach with Tab and open with Enter: (CSS selector of the control,
# script that says whether what it controls is open).
KEYBOARD_CONTROLS = {
    "launch menu": (
        ".dropdown-launch-buttons .dropdown-toggle",
        "return document.querySelector('.dropdown-launch-buttons .dropdown-menu')"
        ".classList.contains('show')",
    ),
    "setup cell": (
        "details.hide > summary",
        "return document.querySelector('details.hide').open",
    ),
    "solution": (
        ".solution.dropdown .toggle-button",
        "const s = document.querySelector('.solution.dropdown');"
        "return !s.classList.contains('toggle-hidden')"
        " && s.querySelector('section').getBoundingClientRect().height > 0",
    ),
}
MAX_TABS = 800  # more than the focusable elements of any page


def tab_to(browser, selector):
    """Press Tab from the top of the page until the first control matching selector has focus.

    Returns the number of presses, or None if it never got focus.
    """
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for presses in range(1, MAX_TABS + 1):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.execute_script(
            "const el = document.activeElement;return el === document.querySelector(arguments[0]);",
            selector,
        ):
            return presses
    return None


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("chapters/")])
def test_launch_menu_setup_cell_and_solutions_open_with_the_keyboard_alone(site, browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # Every chapter page has a launch menu and exercises with solutions; a page that
    # imports mmids starts with the collapsed setup cell.
    source = (ROOT / page).with_suffix(".md").read_text(encoding="utf-8")
    expected = ["launch menu", "solution"] + (["setup cell"] if "hide-input" in source else [])
    for name in expected:
        selector, is_open = KEYBOARD_CONTROLS[name]
        browser.get(page_url(site, page))
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector)),
            message=f"{page} has no {name} ({selector})",
        )
        assert not browser.execute_script(is_open), f"{page}: the {name} is open before any key"
        presses = tab_to(browser, selector)
        assert presses, f"{page}: {MAX_TABS} presses of Tab never reach the {name} ({selector})"
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        assert browser.execute_script(is_open), (
            f"{page}: Enter on the {name} (reached with {presses} presses of Tab) did not open it"
        )
