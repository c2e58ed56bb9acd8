"""Write the labelled evaluation catalog: 40 fictional profiles and their ground truth.

    python bench/eval/make_profiles.py            # writes bench/eval/profiles/*.txt and bench/eval/truth.json

Deterministic. The text is the hand-written material of ``material.py``; this script only deals
the papers out to people: per topic four specialists (each paper has two of them as authors), six
people spanning two topics (three papers of each), two prolific generalists (two papers of every
topic), and coauthors known only from author lists, drawn at random from a pool (so they mix topics).

Ground truth (``truth.json``): the topic of every paper; per person their paper count per topic;
``experts`` per topic: people with at least two papers on it that make at least half of their work;
``person_topics``: topics making at least a third of a person's work (who is "like" whom).
"""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from material import GENERALISTS, LISTED, SPANNERS, SPECIALISTS, TOPICS  # noqa: E402

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AFFILIATIONS = ("nordvik-univ", "lumen-ai", "altamira-univ", "kestrel-labs", "qinghe-univ", "harbor-tech")


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in ascii_name.lower()).split())


def deal() -> tuple[list[dict], dict[str, list[int]]]:
    """Papers (title, abstract, topic, category, date, ...) and each owner's paper indexes."""
    rng = random.Random(9)
    papers: list[dict] = []
    owned: dict[str, list[int]] = {}
    topic_names = list(TOPICS)
    for ti, topic in enumerate(topic_names):
        spec = SPECIALISTS[4 * ti : 4 * ti + 4]
        for j, (title, abstract) in enumerate(TOPICS[topic]["papers"]):
            index = len(papers)
            papers.append(
                {
                    "title": title,
                    "abstract": abstract,
                    "topic": topic,
                    "category": TOPICS[topic]["category"],
                    "year": 2019 + (j * 7 + ti) % 8,
                    "month": MONTHS[rng.randrange(12)],
                    "day": rng.randint(1, 28),
                    "listed": rng.sample(LISTED, rng.randint(1, 2)),
                    "affiliations": rng.sample(AFFILIATIONS, 2) if rng.random() < 0.6 else [],
                    "code": rng.random() < 0.5,
                }
            )
            for owner in (spec[j % 4], spec[(j + 1) % 4]):
                owned.setdefault(owner, []).append(index)
    for i, (name, a, b) in enumerate(SPANNERS):
        for topic in (a, b):
            base = 10 * topic_names.index(topic)
            owned[name] = owned.get(name, []) + [base + (i + k * 3) % 10 for k in range(3)]
    for g, name in enumerate(GENERALISTS):
        owned[name] = [10 * ti + j for ti in range(len(topic_names)) for j in (2 * g + 1, 2 * g + 6)]
    return papers, owned


def authors_of(papers: list[dict], owned: dict[str, list[int]]) -> list[list[str]]:
    rng = random.Random(11)
    lists: list[list[str]] = [[] for _ in papers]
    for name, indexes in owned.items():
        for i in indexes:
            lists[i].append(name)
    for i, paper in enumerate(papers):
        lists[i] = lists[i] + paper["listed"]
        rng.shuffle(lists[i])
    return lists


def profile_text(name: str, indexes: list[int], papers: list[dict], authors: list[list[str]]) -> str:
    rng = random.Random(name)
    mine = sorted(indexes, key=lambda i: (papers[i]["year"], MONTHS.index(papers[i]["month"]), papers[i]["day"]))
    counts: dict[str, int] = {}
    for i in mine:
        counts[papers[i]["category"]] = counts.get(papers[i]["category"], 0) + 1
    primary = max(sorted(counts), key=lambda c: counts[c])
    lines = [
        name,
        "",
        primary,
        f"h-index{rng.randint(5, 40)}",
        f"{len(mine)}papers",
        f"{rng.randint(100, 5000):,}citations",
        f"Novelty{rng.randint(30, 80)}%",
        f"AI Score{rng.randint(30, 90)}",
        "",
        f"{len(mine)} Papers",
    ]
    for i in reversed(mine):
        p = papers[i]
        score = f"{rng.uniform(55, 97):.1f}" if rng.random() < 0.85 else ""
        meta = f"{score}{p['category']}{p['month']} {p['day']}, {p['year']}{'Code' if p['code'] else ''}"
        author_line = ", ".join(authors[i])
        if p["affiliations"]:
            author_line += " · " + ", ".join(p["affiliations"])
        lines += ["", meta, p["title"], "", author_line, "", p["abstract"]]
    return "\n".join(lines) + "\n"


def truth(papers: list[dict], owned: dict[str, list[int]], authors: list[list[str]]) -> dict:
    per_person: dict[str, dict[str, int]] = {}
    for i, names in enumerate(authors):
        for name in names:
            per_person.setdefault(name, {})
            per_person[name][papers[i]["topic"]] = per_person[name].get(papers[i]["topic"], 0) + 1
    experts = {
        topic: sorted(
            n for n, c in per_person.items() if c.get(topic, 0) >= 2 and c.get(topic, 0) >= 0.5 * sum(c.values())
        )
        for topic in TOPICS
    }
    person_topics = {
        n: sorted(t for t, k in c.items() if k >= sum(c.values()) / 3) for n, c in sorted(per_person.items())
    }
    return {
        "topics": {t: {"query": v["query"], "paraphrase": v["paraphrase"]} for t, v in TOPICS.items()},
        "papers": {p["title"]: p["topic"] for p in papers},
        "profiles": {name: f"ev{k + 1:02d}_{slug(name)}" for k, name in enumerate(owned)},
        "generalists": GENERALISTS,
        "spanners": [s[0] for s in SPANNERS],
        "people": {n: dict(sorted(c.items())) for n, c in sorted(per_person.items())},
        "experts": experts,
        "person_topics": person_topics,
    }


def main() -> int:
    papers, owned = deal()
    authors = authors_of(papers, owned)
    out = HERE / "profiles"
    out.mkdir(exist_ok=True)
    for old in out.glob("*.txt"):
        old.unlink()
    facts = truth(papers, owned, authors)
    for name, indexes in owned.items():
        (out / f"{facts['profiles'][name]}.txt").write_text(profile_text(name, indexes, papers, authors), "utf-8")
    (HERE / "truth.json").write_text(json.dumps(facts, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {len(owned)} profiles, {len(papers)} papers to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
