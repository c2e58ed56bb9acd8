"""The MCP Apps views in a real browser: headless Chromium, a host built on the official app-bridge,
a real ``scholar-catalog serve --http`` on loopback.

The host page (``tests/apps_host/host.html``, built by ``scripts/build-views``) is handed to the browser
by the test for a path under the server's own origin, so the page talks to ``/mcp`` as a same-origin
client and the server's Host/Origin checks stay exactly as they are. The host calls a tool, loads the
tool's ``ui://`` resource into a sandboxed iframe under the spec's default CSP, and passes the result
in; the assertions read the view's DOM. Screenshots (light and dark) go to a temporary folder, or to
``$SCHOLAR_CATALOG_SCREENSHOTS`` when set.

Needs the ``playwright`` Python package and a system Chromium (``/usr/bin/chromium``); Playwright's own
browser download is never used. Without them the tests skip, except in CI (``$CI`` set), where they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, build_catalog
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.tools import coauthors, get_author, search_papers

HOST_HTML = (ROOT / "tests" / "apps_host" / "host.html").read_text(encoding="utf-8")
HOST_PATH = "/__scholar_catalog_test_host__"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _chromium() -> str:
    for candidate in (os.environ.get("SCHOLAR_CATALOG_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _unavailable("no system Chromium (apt-get install chromium)")
    raise AssertionError  # not reached


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@contextlib.contextmanager
def _serving(db: Path) -> Iterator[str]:
    """``scholar-catalog serve --http`` on a free loopback port; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scholar_catalog", "serve", "--http", "--port", "0", "--db", str(db)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stderr.readline() if process.stderr else ""  # the server announces its URL once bound
        found = re.search(r"(http://127\.0\.0\.1:\d+)/mcp", line)
        assert found, f"server did not start: {line!r}"
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(example_db: Path) -> Iterator[str]:
    with _serving(example_db) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("SCHOLAR_CATALOG_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Shown:
    """A view loaded in the test host: the page, the view's frame, and what the host saw."""

    def __init__(self, page: Any, console: list[str]) -> None:
        self.page = page
        self.frame = page.frame_locator("iframe")
        self.console = console

    @property
    def state(self) -> dict[str, Any]:
        return self.page.evaluate("window.hostState")

    def count(self, selector: str) -> int:
        return self.frame.locator(selector).count()

    def attr(self, selector: str, name: str) -> str | None:
        return self.frame.locator(selector).first.get_attribute(name)

    def screenshot(self, path: Path) -> None:
        self.page.wait_for_timeout(150)  # let the last size change land
        self.page.locator("iframe").screenshot(path=str(path))


@pytest.fixture
def show(browser: Any, server: str) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_view(
        tool: str, arguments: dict[str, Any], theme: str = "light", width: int = 640, server: str = server
    ) -> Shown:
        context = browser.new_context(viewport={"width": width + 40, "height": 800}, color_scheme=theme)
        contexts.append(context)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.route(f"{server}{HOST_PATH}*", lambda route: route.fulfill(body=HOST_HTML, content_type="text/html"))
        query = urllib.parse.urlencode({"tool": tool, "args": json.dumps(arguments), "theme": theme, "width": width})
        page.goto(f"{server}{HOST_PATH}?{query}")
        page.wait_for_function(
            "window.hostState && ['result-sent', 'failed'].includes(window.hostState.stage)", timeout=TIMEOUT_MS
        )
        shown = Shown(page, console)
        assert shown.state["error"] is None, shown.state["error"]
        return shown

    yield open_view
    for context in contexts:
        context.close()


def _wait_for_expansion(shown: Shown) -> None:
    """Wait until the card's Expand button reports its outcome; on a timeout, say what the card shows instead."""
    done = shown.frame.locator("#expand:has-text('Added'), #expand:has-text('No one new')")
    try:
        done.wait_for(timeout=TIMEOUT_MS)
    except Exception as error:  # playwright's TimeoutError: keep what the view showed in the failure
        card = shown.frame.locator("#card").inner_text(timeout=1_000)
        raise AssertionError(f"expansion did not finish: card shows {card!r}; console: {shown.console[-5:]}") from error


def _no_policy_errors(shown: Shown) -> None:
    bad = [line for line in shown.console if "Content Security Policy" in line or line.startswith("pageerror")]
    assert not bad, bad


def test_network_view_draws_each_coauthor_and_a_click_fetches_their_card_through_the_host(
    show: Any, shots: Path, example_db: Path
) -> None:
    shown = show("coauthors", {"name": "Zoë Hartmann"})
    graph = shown.frame.locator("svg.graph[data-nodes]")
    graph.wait_for(timeout=TIMEOUT_MS)
    result = shown.state["result"]
    people = result["coauthors"]
    assert shown.count("g.node") == int(graph.get_attribute("data-nodes")) == len(people) + 1
    assert shown.count("line.edge") == int(graph.get_attribute("data-edges")) == len(people)
    owners = sum(1 for c in people if c["profile_id"]) + 1
    assert shown.count('g.node[data-owner="true"]') == owners < len(people) + 1
    assert shown.count("g.node.hl") == 1
    assert shown.attr("g.node.hl", "data-key") == "p:ex02_zoe-hartmann"
    shown.screenshot(shots / "network-coauthors-light.png")

    # An edge shows the shared papers' titles.
    first = max(people, key=lambda c: c["shared_papers"])
    edge = shown.frame.locator("line.edge").nth([c["name"] for c in people].index(first["name"]))
    edge.locator("xpath=following-sibling::*[1]").hover()
    assert shown.frame.locator("#edge-papers li").first.inner_text().startswith(first["titles"][0])

    # Clicking a person calls get_author through the host and shows their card.
    person = next(c for c in people if c["profile_id"])
    shown.frame.locator(f'g.node[data-key="p:{person["profile_id"]}"]').click()
    card = shown.frame.locator("#card[data-name]")
    card.wait_for(timeout=TIMEOUT_MS)
    expected = get_author(Catalog(example_db), profile_id=person["profile_id"])
    assert card.get_attribute("data-name") == expected.name
    assert str(expected.h_index) in card.inner_text() and expected.papers[0].title in card.inner_text()
    assert "get_author" in shown.state["proxiedCalls"]

    # "Expand" adds that person's coauthors: every one of them is now a node.
    before = shown.count("g.node")
    shown.frame.locator("#expand").click()
    _wait_for_expansion(shown)
    assert "coauthors" in shown.state["proxiedCalls"]
    keys = set(shown.frame.locator("g.node").evaluate_all("nodes => nodes.map(n => n.dataset.key)"))
    theirs = coauthors(Catalog(example_db), profile_id=person["profile_id"], limit=100).coauthors
    assert {f"p:{c.profile_id}" for c in theirs if c.profile_id} <= keys
    assert shown.count("g.node") >= before
    shown.screenshot(shots / "network-expanded-light.png")
    _no_policy_errors(shown)


def test_namesakes_stay_two_people_and_the_view_cannot_reach_the_network(show: Any, server: str) -> None:
    shown = show("coauthors", {"name": "Henrik Solberg"})
    shown.frame.locator('g.node[data-key="p:ex05_wei-zhang-db"]').wait_for(timeout=TIMEOUT_MS)
    # The view runs under the host's default CSP: it may not reach the network, and says so in the console.
    view = next(frame for frame in shown.page.frames if frame != shown.page.main_frame)
    outcome = view.evaluate(f"fetch('{server}/mcp').then(() => 'fetched', e => 'refused: ' + e.message)")
    assert outcome.startswith("refused")
    shown.page.wait_for_timeout(100)
    assert any("Content Security Policy" in line for line in shown.console)  # what _no_policy_errors looks for
    for profile_id in ("ex04_jose-alvarez", "ex03_chen-ming"):  # Henrik -> José -> 陈明, who wrote with the other
        shown.frame.locator(f'g.node[data-key="p:{profile_id}"]').click()
        shown.frame.locator("#card[data-name] #expand").click()
        _wait_for_expansion(shown)
    keys = shown.frame.locator('g.node[data-name="Wei Zhang"]').evaluate_all("nodes => nodes.map(n => n.dataset.key)")
    assert sorted(keys) == ["p:ex05_wei-zhang-db", "p:ex09_wei-zhang-cv"]


def test_a_click_anywhere_in_a_persons_box_opens_their_card(show: Any) -> None:
    shown = show("coauthors", {"name": "Henrik Solberg"})
    node = shown.frame.locator('g.node[data-key="p:ex04_jose-alvarez"]')
    node.wait_for(timeout=TIMEOUT_MS)
    # A corner of the circle's square is outside the disc and clear of the label: nothing is painted there,
    # yet it is inside the person's box, which takes the click (a name whose glyphs the browser lacks has no
    # paint of its own either).
    corner = node.evaluate(
        """g => { const box = g.getBoundingClientRect();
                  const disc = g.querySelector('circle:last-of-type').getBoundingClientRect();
                  return {x: disc.left + 1 - box.left, y: disc.bottom - 1 - box.top}; }"""
    )
    node.click(position=corner, timeout=5_000)
    card = shown.frame.locator("#card[data-name]")
    card.wait_for(timeout=TIMEOUT_MS)
    assert card.get_attribute("data-name") == "José Álvarez"


def test_shared_coauthors_view_highlights_the_two_people_compared(show: Any, shots: Path) -> None:
    theme = "dark"  # the network view's light theme is shot by the other network tests
    shown = show("shared_coauthors", {"author_a": "陈明", "author_b": "Amara Okonkwo"}, theme=theme)
    shown.frame.locator("svg.graph[data-nodes]").wait_for(timeout=TIMEOUT_MS)
    result = shown.state["result"]
    sides = sum(bool(s["papers_with_a"]) + bool(s["papers_with_b"]) for s in result["shared"])
    assert shown.count("g.node") == len(result["shared"]) + 2
    assert shown.count("line.edge") == sides + (1 if result["direct"] else 0)
    highlighted = shown.frame.locator("g.node.hl").evaluate_all("nodes => nodes.map(n => n.dataset.name)")
    assert sorted(highlighted) == sorted([result["author_a"]["resolved_to"], result["author_b"]["resolved_to"]])
    shown.screenshot(shots / f"network-shared-{theme}.png")
    _no_policy_errors(shown)


def test_path_view_highlights_the_chain_hop_by_hop(show: Any, shots: Path) -> None:
    theme = "light"
    shown = show("collaboration_path", {"author_a": "Henrik Solberg", "author_b": "Marguerite Dubois"}, theme=theme)
    shown.frame.locator("svg.graph[data-nodes]").wait_for(timeout=TIMEOUT_MS)
    hops = shown.state["result"]["hops"]
    chain = [hops[0]["from"]["name"]] + [hop["to"]["name"] for hop in hops]
    assert len(hops) >= 3
    assert shown.count("g.node") == len(chain)
    assert shown.count("line.edge.hl") == shown.count("line.edge") == len(hops)
    highlighted = shown.frame.locator("g.node.hl").evaluate_all("nodes => nodes.map(n => n.dataset.name)")
    assert sorted(highlighted) == sorted(chain)
    shown.screenshot(shots / f"network-path-{theme}.png")


def _per_year(catalog: Catalog, **filters: Any) -> dict[int, tuple[int, int]]:
    counts: Counter[int] = Counter()
    code: Counter[int] = Counter()
    cursor = None
    while True:
        page = search_papers(catalog, limit=100, cursor=cursor, **filters)
        for paper in page.results:
            counts[int(paper.date[:4])] += 1
            code[int(paper.date[:4])] += paper.has_code
        cursor = page.next_cursor
        if not cursor:
            return {year: (counts[year], code[year]) for year in counts}


def _bars(shown: Shown) -> dict[str, tuple[int, int]]:
    bars = shown.frame.locator(".bar[data-key]").evaluate_all(
        "bars => bars.map(b => [b.dataset.key, +b.dataset.papers, +b.dataset.withCode])"
    )
    return {key: (papers, code) for key, papers, code in bars}


def test_author_view_charts_every_paper_per_year_and_opens_a_paper_record(
    show: Any, shots: Path, example_db: Path
) -> None:
    for theme in ("light", "dark"):
        shown = show("get_author", {"name": "Zoë Hartmann", "papers_limit": 3}, theme=theme)
        shown.frame.locator("svg.chart g.bar").first.wait_for(timeout=TIMEOUT_MS)
        expected = _per_year(Catalog(example_db), author_profile_id="ex02_zoe-hartmann")
        bars = _bars(shown)
        assert {int(k): v for k, v in bars.items() if v[0]} == expected
        assert len(bars) == max(expected) - min(expected) + 1  # empty years show as gaps
        shown.screenshot(shots / f"author-{theme}.png")
    result = shown.state["result"]
    assert sum(v[0] for v in bars.values()) == result["papers_in_catalog"] > len(result["papers"])
    assert "search_papers" in shown.state["proxiedCalls"]
    shown.frame.locator("#papers .paper-title").first.click()
    detail = shown.frame.locator("#papers .detail").first
    detail.locator("text=Listed in").wait_for(timeout=TIMEOUT_MS)
    assert "get_paper" in shown.state["proxiedCalls"]
    _no_policy_errors(shown)


def test_views_fit_a_400_pixel_wide_chat(show: Any, shots: Path) -> None:
    for tool, arguments in (
        ("coauthors", {"name": "陈明"}),
        ("get_author", {"name": "Priya Raghunathan"}),
    ):
        shown = show(tool, arguments, width=400)
        shown.frame.locator("svg").first.wait_for(timeout=TIMEOUT_MS)
        overflow = shown.frame.locator("html").evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 0, f"{tool} view is {overflow}px wider than 400px"
        shown.screenshot(shots / f"{tool}-400px.png")


def test_trend_view_bars_equal_the_per_year_counts(show: Any, shots: Path) -> None:
    for theme in ("light", "dark"):
        shown = show("topic_trends", {"query": "retrieval"}, theme=theme)
        shown.frame.locator(".bar[data-key]").first.wait_for(timeout=TIMEOUT_MS)
        buckets = shown.state["result"]["buckets"]
        bars = _bars(shown)
        assert {k: v for k, v in bars.items() if v[0]} == {
            str(b["key"]): (b["papers"], b["with_code"]) for b in buckets if b["papers"]
        }
        years = [int(b["key"]) for b in buckets]
        assert len(bars) == max(years) - min(years) + 1  # empty years show as gaps
        shown.screenshot(shots / f"trend-{theme}.png")
        _no_policy_errors(shown)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[str, str]]:
    """A server over 300 generated profiles (bench/generate.py), and its best-connected profile."""
    folder = tmp_path_factory.mktemp("crowded")
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), str(folder / "profiles"), "--profiles", "300"],
        check=True,
        capture_output=True,
    )
    db = build_catalog(folder / "catalog.db", folder / "profiles")
    with Catalog(db).connection() as conn:
        (hub,) = conn.execute(
            """SELECT a.profile_id FROM paper_authors mine JOIN authors a ON a.id = mine.author_id
               JOIN paper_authors other ON other.paper_id = mine.paper_id AND other.author_id != mine.author_id
               WHERE a.profile_id IS NOT NULL GROUP BY a.id ORDER BY count(DISTINCT other.author_id) DESC LIMIT 1"""
        ).fetchone()
    with _serving(db) as url:
        yield url, hub


def test_a_crowded_network_stops_at_200_people_and_its_names_never_overlap(
    show: Any, crowded: Any, shots: Path
) -> None:
    url, hub = crowded
    shown = show("coauthors", {"profile_id": hub, "limit": 100}, server=url)
    graph = shown.frame.locator("svg.graph[data-nodes]")
    graph.wait_for(timeout=TIMEOUT_MS)
    assert int(graph.get_attribute("data-nodes")) == 101
    for attempt in range(12):
        if int(graph.get_attribute("data-nodes")) >= 200:
            break
        shown.frame.locator("g.node.owner:not(.hl)").nth(attempt).dispatch_event("click")
        # Dispatched, not clicked at a point: each expansion re-lays out a 100-200 node graph, and a
        # click aimed while the frame is still resizing may miss its button (what this test
        # checks is the cap and the labels; the other network tests click for real).
        shown.frame.locator("#card[data-name] #expand").dispatch_event("click")
        _wait_for_expansion(shown)
    assert shown.count("g.node") == int(graph.get_attribute("data-nodes")) == 200
    assert shown.frame.locator("#status").inner_text().startswith("Showing 200 people")
    boxes = shown.frame.locator("g.node text").evaluate_all(
        "texts => texts.map(t => { const b = t.getBoundingClientRect(); return [b.left, b.right, b.top, b.bottom]; })"
    )
    assert 5 <= len(boxes) < 60
    shown.screenshot(shots / "network-200-light.png")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = min(a[1], b[1]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[2], b[2]) > 1
            assert not overlap, (a, b)
