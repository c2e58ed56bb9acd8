"""Ranking quality of find_experts, similar_papers and similar_authors on the labelled catalog.

    python bench/eval.py              # prints a markdown table (bench/eval/profiles + bench/eval/truth.json)

Builds the catalog of ``bench/eval/profiles`` in a temporary folder and scores, against
``bench/eval/truth.json`` (see ``bench/eval/make_profiles.py``):

* find_experts: one query per topic in the topic's own words and four paraphrases sharing no content
  word with it (``truth.json``'s and ``paraphrases.json``'s); relevant: the topic's experts.
* similar_papers: every paper; relevant: the papers of the same topic.
* similar_authors: every profile owner but the generalists; relevant: other profile owners sharing
  a topic with them (people known only from author lists are random coauthors in this catalog, so
  results are scored among profile owners, for every method alike).

Methods: ``lexical`` (the tools with the embedding model switched off), ``hybrid`` (the tools as
shipped with the ``[semantic]`` extra; only when it is installed), and a naive baseline that counts
search_papers matches: people by how many papers matching the query they wrote; papers by how many
of the paper's title words' searches they match; people by how many of a person's title words'
searches match their papers.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scholar_catalog import tools  # noqa: E402
from scholar_catalog.db import terms as T  # noqa: E402
from scholar_catalog.db import vectors  # noqa: E402
from scholar_catalog.db.catalog import Catalog  # noqa: E402
from scholar_catalog.db.connection import open_writable  # noqa: E402
from scholar_catalog.db.ingest import ingest  # noqa: E402

PROFILES = HERE / "eval" / "profiles"
TRUTH = HERE / "eval" / "truth.json"
PARAPHRASES = HERE / "eval" / "paraphrases.json"


@contextmanager
def model_off() -> Iterator[None]:
    """The tools as without the semantic extra (lexical ranking)."""
    saved = vectors.available
    vectors.available = lambda: False
    try:
        yield
    finally:
        vectors.available = saved


def precision_at(ranked: list[str], relevant: set[str], k: int = 5) -> float:
    return sum(1 for r in ranked[:k] if r in relevant) / k


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(ranked[:k]) if r in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def all_matches(catalog: Catalog, query: str) -> list[dict]:
    """Every search_papers result for *query* (all pages)."""
    out: list[dict] = []
    cursor = None
    while True:
        page = tools.search_papers(catalog, query=query, limit=100, cursor=cursor)
        if page.fuzzy_fallback:
            return out
        out += [r.model_dump() for r in page.results]
        cursor = page.next_cursor
        if not cursor:
            return out


def count_rank(counter: Counter[str], drop: set[str] = frozenset()) -> list[str]:
    return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if k not in drop]


class Tools:
    """The tools as they are (hybrid when the semantic extra is installed)."""

    def __init__(self, catalog: Catalog, truth: dict) -> None:
        self.catalog = catalog
        self.truth = truth
        self.owners = set(truth["profiles"])
        with catalog.connection() as conn:
            self.ids = {r[1]: r[0] for r in conn.execute("SELECT id, title FROM papers")}

    # -- the tools
    def experts(self, query: str) -> list[str]:
        return [r.name for r in tools.find_experts(self.catalog, query, limit=10).results]

    def similar_papers(self, title: str) -> list[str]:
        return [r.title for r in tools.similar_papers(self.catalog, self.ids[title], limit=10).results]

    def similar_authors(self, name: str) -> list[str]:
        found = tools.similar_authors(self.catalog, name, limit=50).results
        return [r.name for r in found if r.name in self.owners][:10]


class Lexical(Tools):
    """The tools ranking by words alone."""

    def experts(self, query: str) -> list[str]:
        with model_off():
            return super().experts(query)

    def similar_papers(self, title: str) -> list[str]:
        with model_off():
            return super().similar_papers(title)

    def similar_authors(self, name: str) -> list[str]:
        with model_off():
            return super().similar_authors(name)


class Baseline(Lexical):
    """Counts of search_papers matches."""

    def experts(self, query: str) -> list[str]:
        return count_rank(Counter(a for paper in all_matches(self.catalog, query) for a in paper["authors"]))

    def _title_words(self, titles: list[str]) -> list[str]:
        return [w for title in titles for w in dict.fromkeys(T.tokens(title))]

    def similar_papers(self, title: str) -> list[str]:
        counts = Counter(p["title"] for w in self._title_words([title]) for p in all_matches(self.catalog, w))
        return count_rank(counts, {title})[:10]

    def similar_authors(self, name: str) -> list[str]:
        author = tools.get_author(self.catalog, name, papers_limit=100)
        words = self._title_words([p.title for p in author.papers])
        counts = Counter(a for w in words for p in all_matches(self.catalog, w) for a in p["authors"])
        return [n for n in count_rank(counts, {name}) if n in self.owners][:10]


def evaluate(methods: dict[str, Tools], truth: dict) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(tool, queries, method) -> (mean precision@5, mean nDCG@10), for each of *methods* (name -> ranker)."""
    runs: dict[tuple[str, str, str], list[tuple[float, float]]] = {}

    def score(key: tuple[str, str], rank: str, argument: str, relevant: set[str]) -> None:
        for name, method in methods.items():
            ranked = getattr(method, rank)(argument)
            runs.setdefault((*key, name), []).append((precision_at(ranked, relevant), ndcg_at(ranked, relevant)))

    more = json.loads(PARAPHRASES.read_text("utf-8"))
    for topic, q in truth["topics"].items():
        relevant = set(truth["experts"][topic])
        queries = [("own words", q["query"]), *(("paraphrase", p) for p in [q["paraphrase"], *more[topic]])]
        for kind, text in queries:
            assert kind == "own words" or not set(T.tokens(q["query"])) & set(T.tokens(text)), text
            score(("find_experts", kind), "experts", text, relevant)
    by_topic: dict[str, set[str]] = {}
    for title, topic in truth["papers"].items():
        by_topic.setdefault(topic, set()).add(title)
    for title, topic in truth["papers"].items():
        relevant = by_topic[topic] - {title}
        score(("similar_papers", "own words"), "similar_papers", title, relevant)
    topics_of = truth["person_topics"]
    for name in truth["profiles"]:
        if name in truth["generalists"]:
            continue
        relevant = {
            other
            for other in truth["profiles"]
            if other != name and other not in truth["generalists"] and set(topics_of[other]) & set(topics_of[name])
        }
        score(("similar_authors", "own words"), "similar_authors", name, relevant)
    return {
        key: (sum(p for p, _ in vals) / len(vals), sum(n for _, n in vals) / len(vals)) for key, vals in runs.items()
    }


def table(results: dict[tuple[str, str, str], tuple[float, float]]) -> str:
    methods = sorted({m for _, _, m in results}, key=lambda m: (m == "baseline", m))
    head = "| tool | queries | " + " | ".join(f"{m} p@5 | {m} nDCG@10" for m in methods) + " |"
    lines = [head, "|" + " --- |" * (2 + 2 * len(methods))]
    for tool, kind in dict.fromkeys((t, k) for t, k, _ in results):
        cells = []
        for m in methods:
            p, n = results.get((tool, kind, m), (float("nan"), float("nan")))
            cells += [f"{p:.2f}", f"{n:.2f}"]
        lines.append(f"| {tool} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build(folder: Path) -> Path:
    db_path = folder / "eval.db"
    db = open_writable(db_path)
    try:
        ingest(db, [PROFILES], as_of=date(2026, 11, 24))
    finally:
        db.close()
    return db_path


def main() -> int:
    truth = json.loads(TRUTH.read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp))
        catalog, lexical = Catalog(path), Catalog(path)  # separate caches: the method is cached per catalog
        methods: dict[str, Tools] = {"lexical": Lexical(lexical, truth), "baseline": Baseline(lexical, truth)}
        if vectors.available():
            methods["hybrid"] = Tools(catalog, truth)
        try:
            results = evaluate(methods, truth)
        finally:
            catalog.close()
            lexical.close()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
