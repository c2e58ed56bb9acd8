"""Alternatives to the shipped hybrid ranking: the embedding alone (semantic) and RRF of people rankings.

    pip install ".[semantic]" && python bench/eval_semantic.py

Not part of the package: it decided that the ``[semantic]`` extra was worth shipping and which fusion
to ship (see ``bench/README.md``; ``bench/eval.py`` scores the shipped ``hybrid``). Semantic ranking
mirrors the lexical tools: paper relevance is the cosine of embeddings (title + abstract), people are
ranked with the same smoothed share of their work, people are compared by the mean of their papers'
embeddings. ``people-rrf`` fuses the lexical and the semantic people rankings by reciprocal rank (k = 60).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval as ev  # bench/eval.py

from scholar_catalog.db.catalog import Catalog
from scholar_catalog.tools.topics import SMOOTHING

RRF_K = 60


def load_model(cache: Path):
    import wordllama
    from wordllama import WordLlama

    package = Path(wordllama.__file__).parent
    for sub in ("tokenizers", "weights"):
        link = cache / sub
        if not link.exists():
            os.symlink(package / sub, link)
    return WordLlama.load(cache_dir=cache, disable_download=True)


def fuse(*rankings: list[str]) -> list[str]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for i, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + i + 1)
    return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


class Semantic(ev.Lexical):
    def __init__(self, catalog: Catalog, truth: dict, model) -> None:
        super().__init__(catalog, truth)
        self.model = model
        with catalog.connection() as conn:
            rows = conn.execute("SELECT id, title, abstract FROM papers ORDER BY id").fetchall()
            links = conn.execute(
                "SELECT a.name, pa.paper_id FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
            ).fetchall()
        self.titles = [r[1] for r in rows]
        self.vectors = self.embed([f"{r[1]}. {r[2]}" for r in rows])
        row_of = {r[0]: i for i, r in enumerate(rows)}
        self.papers_of: dict[str, list[int]] = {}
        for name, paper_id in links:
            self.papers_of.setdefault(name, []).append(row_of[paper_id])

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self.model.embed(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def person(self, name: str) -> np.ndarray:
        v = self.vectors[self.papers_of[name]].mean(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def experts(self, query: str) -> list[str]:
        sims = self.vectors @ self.embed([query])[0]
        best = float(sims.max())
        relevance = np.clip(sims / best, 0, None) if best > 0 else np.zeros_like(sims)
        scored = {
            name: float(relevance[papers].sum()) / (len(papers) + SMOOTHING) for name, papers in self.papers_of.items()
        }
        return [n for n, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))][:10]

    def similar_papers(self, title: str) -> list[str]:
        i = self.titles.index(title)
        order = np.argsort(-(self.vectors @ self.vectors[i]), kind="stable")
        return [self.titles[j] for j in order if j != i][:10]

    def similar_authors(self, name: str) -> list[str]:
        me = self.person(name)
        scored = {o: float(self.person(o) @ me) for o in self.owners if o != name}
        return [n for n, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))][:10]


class Hybrid(ev.Lexical):
    def __init__(self, lexical: ev.Lexical, semantic: Semantic) -> None:
        self.lexical, self.semantic = lexical, semantic

    def experts(self, query: str) -> list[str]:
        return fuse(self.lexical.experts(query), self.semantic.experts(query))[:10]

    def similar_papers(self, title: str) -> list[str]:
        return fuse(self.lexical.similar_papers(title), self.semantic.similar_papers(title))[:10]

    def similar_authors(self, name: str) -> list[str]:
        return fuse(self.lexical.similar_authors(name), self.semantic.similar_authors(name))[:10]


def main() -> int:
    truth = json.loads(ev.TRUTH.read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(Path(tmp))
        catalog = Catalog(ev.build(Path(tmp)))
        try:
            lexical = ev.Lexical(catalog, truth)
            semantic = Semantic(catalog, truth, model)
            methods = {
                "lexical": lexical,
                "semantic": semantic,
                "people-rrf": Hybrid(lexical, semantic),
                "baseline": ev.Baseline(catalog, truth),
            }
            results = ev.evaluate(methods, truth)
        finally:
            catalog.close()
    print(ev.table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
