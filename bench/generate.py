"""Generate a synthetic catalog of researcher profiles in the real profile format.

    python bench/generate.py OUT_DIR --profiles 50000 --seed 1

Deterministic: the same ``--profiles``, ``--seed`` and ``--as-of`` give byte-identical
files. The shape follows the real seeds (``shared/seeds``) and ``examples/profiles``:

* people live in communities of 40 profile owners (plus 120 people known only from
  author lists); popularity inside a community is Zipf-like, so each community has
  a few hubs with long profiles;
* every owner leads 5 papers; each paper also gets ~1 more owner (mostly from the
  same community, sometimes a neighbouring one, rarely a hub anywhere), and every
  owner who is an author lists the paper, with their own score — so most papers
  appear in two or more profiles, ~10 listings a profile on average (capped at 60);
* author lines show the first three authors and `et al.` (complete lists for short
  papers and some others), with affiliations on half of the papers; titles of
  6-14 words; abstracts of ~1 KB drawn from a vocabulary with a long tail;
* format variations in realistic shares: dates without a year (recent papers),
  integer scores, no score, the `Code` flag, CRLF files, a UTF-8 BOM, no abstract,
  truncated (`…`) abstracts, two-paragraph abstracts, thousands separators, missing
  header fields, title variants (case/punctuation) across profiles, accented,
  CJK and Cyrillic names, and owners who share a name with another owner.

Next to the profiles it writes ``bench-manifest.json`` (not a ``*.txt``, so ingest
ignores it): counts, the vocabulary and samples of names the benchmark draws its
queries from. Memory stays small: paper structure is kept as flat integer arrays, each
file's text is produced when it is written, and the text of the last 16,384 papers is
cached (a paper's other listers are owners of nearby communities, written soon after).
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import math
import random
import sys
import time
from array import array
from datetime import date, timedelta
from pathlib import Path

from scholar_catalog.db.normalize import normalize_name  # the catalog's own name key

AS_OF = date(2026, 11, 24)
MANIFEST = "bench-manifest.json"
VERSION = 1  # bump whenever the files written for a given seed and size change (bench/run.py --profiles-cache)

COMMUNITY_OWNERS = 40  # profile owners per community
NONOWNERS_PER_OWNER = 3  # people known only from author lists, per owner
LEAD_PAPERS = 5  # papers each owner leads
MAX_LISTINGS = 60  # a profile page lists at most this many papers
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CATEGORIES = ("LG", "CL", "CV", "AI", "IR", "DC", "DB", "OS", "RO", "CR", "SE", "NE", "SI", "AR", "HC", "MA", "GR")

# -- vocabulary -------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words(
    """efficient scalable robust sparse dense adaptive hierarchical federated distributed causal contrastive
multimodal multilingual generative discriminative probabilistic bayesian differentiable neural symbolic hybrid
latent recurrent convolutional autoregressive diffusion quantized compressed interpretable explainable fair private
secure verifiable incremental online offline streaming hardware-aware energy-efficient low-latency long-context
open lightweight zero-shot few-shot self-supervised semi-supervised weakly-supervised unsupervised reinforcement
equivariant geometric spectral temporal spatial structured unstructured graph-based memory-efficient parallel
asynchronous decentralized calibrated uncertainty-aware retrieval-augmented instruction-tuned agentic embodied"""
)
NOUNS = _words(
    """model models transformer transformers attention retrieval search ranking index indexes embedding embeddings
representation representations network networks graph graphs language vision speech audio video image images
segmentation detection tracking reasoning planning inference training pretraining finetuning distillation
pruning quantization compression sparsity mixture experts routing decoding generation summarization translation
question answering dialogue agents benchmark benchmarks dataset datasets evaluation alignment safety robustness
privacy fairness optimization gradient gradients scheduler scheduling cache caching memory storage database
databases query queries join joins transactions consistency replication consensus kernel kernels compiler
compilers accelerator accelerators gpu gpus cluster clusters serving throughput latency workload workloads
simulation control policy policies reward rewards robot robots manipulation navigation perception point clouds
depth scenes meshes rendering fields proteins molecules code programs verification testing fuzzing malware
vulnerabilities protocols encryption signatures circuits chips power energy tokens tokenizer vocabulary context
window windows sequence sequences time series forecasting anomaly anomalies recommendation recommender users items
clicks corpus corpora documents passages entities relations knowledge ontology tables spreadsheets charts"""
)
VERBS = _words(
    """improves reduces accelerates scales stabilizes unifies simplifies explains predicts recovers preserves
outperforms matches bounds characterizes enables combines learns estimates detects aligns generalizes
transfers adapts compresses prunes routes caches schedules verifies measures"""
)
METHODS = _words(
    """framework method approach algorithm architecture system pipeline toolkit library protocol recipe
analysis study survey technique baseline objective loss regularizer estimator sampler solver"""
)
FILLER = _words("""across under with without over between within beyond using via through against""")
SYLLABLES = _words(
    """ka lo mi ne ra tu vo zen dar fel gor hal jin kor lum mar nol pex quo ris sal tor urn vex wil xan yor zul
bri cla dro fen gla hyp ion jov kal lex mon nex orb pyr qui rho syn tek umb vor wyn xen yal zor"""
)

FIRST_NAMES = _words(
    """James Mary Wei Li Priya Arjun Sofia Lucas Emma Noah Olivia Liam Ava Mateo Isabella Elena Ivan Olga
Hiroshi Yuki Kenji Aiko Min-jun Seo-yeon Ahmed Fatima Omar Layla Kwame Amara Chidi Ngozi Kofi Abena Diego Camila
Andrés Valentina Joaquín Lucía José Zoë Łukasz Søren Jürgen François Thérèse Ingrid Henrik Astrid Bjørn Maren
Teodor Kateřina Tomasz Agnieszka Paweł Marta Oksana Bojan Selin Emre Ayşe Nguyễn Thanh Linh Anh Raj Ananya
Vikram Deepika Rohan Aditi Sanjay Kavya Rahul Neha Ritika Abhinav Tiyasa Nidhi Sudipta Hayate Venmugil Roger
Aaron Aarti Abhijit Akhiad Itay Izik Zijie Hongxiao Xin Indraneil Aviral Shaan Marguerite Olumide Hana Mateus
Gabriel Rafael Beatriz Inês Miguel Carmen Pilar Jorge Alejandro Daniela Santiago Martina Giulia Francesco
Alessandro Chiara Matteo Lorenzo Federica Sven Nils Erik Karin Lars Anneli Pieter Sanne Daan Femke Ruben Lotte
Maximilian Katharina Felix Lena Jonas Leonie Tobias Anna Clara David Sarah Michael Rachel Daniel Hannah Samuel
Naomi Benjamin Leah Ethan Chloe Mason Grace Logan Zoe Aiden Nora Caleb Ruby Owen Stella Isaac Hazel Julian
Violet Levi Aurora Ezra Ivy Miles Alice Theo Eliza Felipe Renata Tiago Larissa Bruno Yasmin Kai Mei Jun Hao Yan
Lei Jing Tao Ying Chen Bo Rui Xiao Dmitri Anastasia Sergei Natalia Mikhail Yelena Pavel Irina Aleksandr
Kateryna Taras Yusuf Zeynep Mehmet Elif Burak Deniz Can Ece Tarek Nour Karim Salma Youssef Mariam Bilal Hira"""
)
LAST_ROOTS = _words(
    """Hart Nord Kowal Berg Lind Stern Wald Rosen Fisch Acker Brandt Klein Gross Weiss Schwarz Roth Lang
Hoff Kessel Dorn Falk Moreau Dubois Laurent Girard Bonnet Fontaine Rossi Ferrari Bianchi Romano Colombo Ricci
Marino Greco Bruno Gallo Conti Costa Silva Santos Oliveira Pereira Almeida Ferreira Rodrigues Carvalho Gomes
Martins Garcia Martinez Lopez Gonzalez Hernandez Perez Sanchez Ramirez Torres Flores Rivera Morales Ortiz
Castillo Chandra Raghu Krishna Subra Venkat Rama Srini Bala Gopal Nara Mukher Banerj Chatter Sharma Verma
Gupta Patel Reddy Iyer Nair Menon Kumar Singh Okon Adey Obi Nwos Mensah Asante Owusu Boateng Tanaka Suzuki
Takaha Watana Yamamo Nakamu Kobaya Sato Ito Kato Park Kim Lee Choi Jung Kang Cho Yoon Jang Lim Han Novak
Horvat Kovac Wrob Nowak Lewand Zielin Grabow Kaczm Petrov Ivanov Smirn Volkov Sokol Popov Lebed Kozlov
Morozov Melnyk Shevch Bondar Yilmaz Kaya Demir Sahin Celik Aydin Ozturk Arslan Dogan Hashem Nasser Haddad
Khalil Mansour Saleh Farouk Aziz Rahman Hussain Iqbal Malik Qureshi Chaudh Borkar Khattar Mitra Bhatia Elango"""
)
LAST_SUFFIXES = (
    "",
    "mann",
    "berg",
    "ström",
    "sson",
    "ski",
    "czyk",
    "ová",
    "ez",
    "ini",
    "elli",
    "ovic",
    "enko",
    "ar",
    "an",
    "ani",
    "ura",
    "oto",
    "ley",
    "ford",
    "wood",
    "field",
    "er",
    "el",
    "o",
)
CJK_SURNAMES = "陈王李张刘杨黄赵吴周徐孙马朱胡郭何高林罗"
CJK_GIVEN = "明华芳伟静磊洋勇艳杰娟涛超敏强军平刚桂英玲秀兰霞燕丽萍红健慧"
CYR_FIRST = _words("Дмитрий Анна Сергей Ольга Михаил Наталья Павел Ирина Алексей Елена Иван Мария")
CYR_INITIALS = "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЭЮЯ"  # distinct after normalization (no Й/Ё)
CYR_LAST = _words("Орлов Иванов Смирнов Кузнецов Попов Соколов Лебедев Козлов Новиков Морозов Петров Волков")
ORG_ROOTS = _words(
    """vistula delft rhone nordvik northlake pacifica lagos fjord harbor cascade summit meridian aurora
granite cedar maple lakeshore riverside bayview highland"""
)
ORG_KINDS = ("univ", "ai-lab", "research", "institute", "tech", "systems", "labs", "ai-institute", "cs", "vision")
ORG_BIG = (
    "nvidia",
    "amazon-science",
    "cmu",
    "mit",
    "stanford",
    "google-research",
    "meta-ai",
    "microsoft",
    "eth",
    "epfl",
)


def _unique(words: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for word in words:
        key = normalize_name(word)
        if key not in seen:
            seen.add(key)
            out.append(word)
    return out


def _zipf_cdf(n: int, s: float, q: float = 0.0) -> list[float]:
    """Cumulative Zipf(-Mandelbrot) weights 1/(rank+1+q)^s over n ranks, normalized to end at 1."""
    total = 0.0
    out = []
    for rank in range(n):
        total += 1.0 / (rank + 1 + q) ** s
        out.append(total)
    return [x / total for x in out]


class Generator:
    """Builds the catalog's structure (cheap integers) once, then writes one file per owner."""

    def __init__(self, profiles: int, seed: int, as_of: date = AS_OF) -> None:
        if profiles < 1:
            raise ValueError("--profiles must be at least 1")
        self.n = profiles
        self.seed = seed
        self.as_of = as_of
        self.rng = random.Random(seed)
        self._build_pools()
        self._build_structure()
        # A paper's co-listers are owners of the same or a nearby community, written soon after each other.
        self._paper = functools.lru_cache(maxsize=16_384)(self._paper)  # type: ignore[method-assign]

    # -- pools ---------------------------------------------------------------------------

    def _build_pools(self) -> None:
        rng = self.rng
        self.first_names = _unique(FIRST_NAMES)
        last = [root + suffix for root in LAST_ROOTS for suffix in LAST_SUFFIXES]
        extra = ["Wróbel", "Álvarez", "Nováková", "Gonçalves", "Weiß", "Nyström", "Aydın", "O'Connor"]
        extra += ["Nowak-Ślusarczyk", "Hartmann-Ruiz", "Solheim", "Okonkwo", "Raghunathan", "Solberg"]
        self.last_names = _unique(extra + last)
        rng.shuffle(self.last_names)
        self.cjk_names = [s + a + b for s in CJK_SURNAMES for a in CJK_GIVEN for b in ("", *CJK_GIVEN)]
        rng.shuffle(self.cjk_names)
        self.people = self.n * (1 + NONOWNERS_PER_OWNER)
        # A multiplicative permutation of person ids, so names look random within a community and never repeat.
        self._name_mul = int(self.people * 0.6180339887) | 1
        while math.gcd(self._name_mul, self.people) != 1:
            self._name_mul += 2
        pairs = len(self.first_names) * len(self.last_names)
        while math.gcd(2_654_435_761, pairs) != 1:  # keep the pair permutation a bijection
            self.last_names.append(self.last_names.pop(0) + "son")
            pairs = len(self.first_names) * len(self.last_names)

        words = _unique(ADJECTIVES + NOUNS + METHODS)
        synthetic = set()
        while len(synthetic) < 6000:
            synthetic.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
        self.rare_words = sorted(synthetic)
        rng.shuffle(self.rare_words)
        self.title_vocab = words + self.rare_words  # Zipf over this list: real words first, long tail after
        # A flattened head (q=10): the commonest word is in about a third of the papers, as "model" would be.
        self.title_cdf = _zipf_cdf(len(self.title_vocab), 1.0, 10.0)
        self.orgs = list(ORG_BIG) + [f"{r}-{k}" for r in ORG_ROOTS for k in ORG_KINDS]
        self.org_cdf = _zipf_cdf(len(self.orgs), 1.0)
        self.cat_cdf = _zipf_cdf(len(CATEGORIES), 0.9)
        self.owner_cdf = _zipf_cdf(COMMUNITY_OWNERS, 1.1)
        self.other_cdf = _zipf_cdf(COMMUNITY_OWNERS * NONOWNERS_PER_OWNER, 1.0)
        self.sentences = [self._sentence(rng) for _ in range(8192)]

    def _word(self, rng: random.Random) -> str:
        return self.title_vocab[bisect.bisect_left(self.title_cdf, rng.random())]

    def _sentence(self, rng: random.Random) -> str:
        a, n, v, m = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(VERBS), rng.choice(METHODS)
        n2, n3, f = rng.choice(NOUNS), rng.choice(NOUNS), rng.choice(FILLER)
        w1, w2 = self._word(rng), self._word(rng)
        x = rng.randint(2, 97)
        templates = (
            f"We propose a {a} {m} for {n} {n2} that {v} {w1} {n3} by {x}% {f} strong baselines.",
            f"Existing {n} {m}s struggle with {w1} {n2} when {n3} is {a}, which limits their use in practice.",
            f"On {x} public {n} benchmarks, our {m} {v} {w2} {n2} while using {x // 2 + 1}x less {n3}.",
            f"We analyse why {a} {n} fails on {w1} {n2} and derive a {m} that {v} {n3} {f} {w2} settings.",
            f"Our {m} combines {a} {n} with {w1} {n2}, and {v} {n3} at a fraction of the cost of prior work.",
            f"Experiments {f} {x} {n} tasks show that {a} {n2} {v} {w2} {n3} without extra {w1} supervision.",
            f"We release the {n} {m}, the {w1} {n2} and a {a} evaluation suite to support further research.",
            f"A {a} {n} {m} is introduced in which {w1} {n2} {v} {n3} {f} the {w2} regime.",
        )
        return templates[rng.randrange(len(templates))]

    def person_name(self, person: int) -> str:
        """A distinct name for every person id (same-name owners are made on purpose, in owner_name)."""
        k = (person * self._name_mul) % self.people  # a permutation of 0..people-1
        if k % 61 == 7:
            return self.cjk_names[(k // 61) % len(self.cjk_names)]
        if k % 97 == 11:
            i = k // 97
            first, last, middle = CYR_FIRST[i % 12], CYR_LAST[(i // 12) % 12], (i // 144) % (len(CYR_INITIALS) + 1)
            return f"{first} {CYR_INITIALS[middle - 1]}. {last}" if middle else f"{first} {last}"
        pairs = len(self.first_names) * len(self.last_names)
        pair = (k * 2_654_435_761) % pairs  # a bijection of 0..pairs-1 (the multiplier is coprime with it)
        first = self.first_names[pair % len(self.first_names)]
        last = self.last_names[pair // len(self.first_names)]
        middle = k // pairs
        return f"{first} {chr(64 + middle)}. {last}" if middle else f"{first} {last}"

    def owner_name(self, owner: int) -> str:
        if owner % 200 == 100:  # ~0.5% of owners share their name with another, unrelated owner
            return self.person_name(owner - 50)
        return self.person_name(owner)

    # -- structure -----------------------------------------------------------------------

    def _pick(self, rng: random.Random, community: int, owners: bool) -> int:
        """A person of *community* (owner or not), Zipf-popular inside it."""
        if owners:
            first = community * COMMUNITY_OWNERS
            size = min(COMMUNITY_OWNERS, self.n - first)
            rank = bisect.bisect_left(self.owner_cdf, rng.random()) % size
            return first + rank
        block = COMMUNITY_OWNERS * NONOWNERS_PER_OWNER
        first = community * block
        size = min(block, self.n * NONOWNERS_PER_OWNER - first)
        rank = bisect.bisect_left(self.other_cdf, rng.random()) % size
        return self.n + first + rank

    def _near(self, rng: random.Random, community: int) -> int:
        r = rng.random()
        if r < 0.85:
            return community
        if r < 0.97:
            return (community + rng.choice((-3, -2, -1, 1, 2, 3))) % self.communities
        return rng.randrange(self.communities)

    def _build_structure(self) -> None:
        n = self.n
        self.communities = (n + COMMUNITY_OWNERS - 1) // COMMUNITY_OWNERS
        self.papers = n * LEAD_PAPERS
        shown_flat = array("i")
        shown_off = array("i", [0])
        flags = array("b")  # bit 0: truncated (et al.)
        listings = [array("i") for _ in range(n)]  # 4 bytes a listing (a list of ints is ~36): 250k profiles fit
        base = self.seed * 7_919_993
        for pid in range(self.papers):
            rng = random.Random(base + pid)
            lead = pid % n
            community = lead // COMMUNITY_OWNERS
            listers = [lead]
            r = rng.random()
            extra = 0 if r < 0.35 else 1 if r < 0.70 else 2 if r < 0.90 else 3 + int(rng.random() * 3)
            for _ in range(extra):
                other = self._pick(rng, self._near(rng, community), True)
                if other not in listers:
                    listers.append(other)
            r = rng.random()
            total = (
                1
                if r < 0.03
                else rng.randint(2, 3)
                if r < 0.28
                else rng.randint(4, 8)
                if r < 0.80
                else rng.randint(9, 30)
                if r < 0.98
                else rng.randint(50, 200)
            )
            authors = list(listers)
            tries = 0
            while len(authors) < min(total, 12) and tries < 40:  # only the first few are ever shown
                tries += 1
                other = self._pick(rng, self._near(rng, community), rng.random() < 0.25)
                if other not in authors:
                    authors.append(other)
            if rng.random() >= 0.3:  # the lead is first author 30% of the time
                rng.shuffle(authors)
            total = max(total, len(authors))
            complete = total <= 3 or (total <= 8 and rng.random() < 0.12)
            shown = authors[:total] if complete else authors[:3]
            shown_flat.extend(shown)
            shown_off.append(len(shown_flat))
            flags.append(0 if complete else 1)
            for owner in listers:
                if len(listings[owner]) < MAX_LISTINGS:
                    listings[owner].append(pid)
        self.shown_flat, self.shown_off, self.flags = shown_flat, shown_off, flags
        self.listings = listings

    # -- text ----------------------------------------------------------------------------

    def _paper(self, pid: int) -> tuple:
        """Title, category, date, code flag, base score, affiliations, abstract paragraphs of paper *pid*."""
        rng = random.Random(self.seed * 3_000_017 + pid + 1)
        words = [self._word(rng) for _ in range(rng.randint(5, 12))]
        r = rng.random()
        if r < 0.45:  # "Codename: ..." titles, unique per paper
            code = "".join(SYLLABLES[(pid // len(SYLLABLES) ** i) % len(SYLLABLES)] for i in range(4)).capitalize()
            title = f"{code}: {' '.join(words).capitalize()}"
        elif r < 0.75:
            title = f"{words[0].capitalize()} {' '.join(words[1:3])} for {' '.join(words[3:])}"
        elif r < 0.995:
            title = " ".join(w.capitalize() if len(w) > 3 else w for w in words)
            title = title[0].upper() + title[1:]
        else:
            title = f"{words[0].capitalize()} · {' '.join(words[1:])}"
        community = (pid % self.n) // COMMUNITY_OWNERS
        home = CATEGORIES[community % len(CATEGORIES)]
        category = home if rng.random() < 0.6 else CATEGORIES[bisect.bisect_left(self.cat_cdf, rng.random())]
        age = int(rng.random() ** 2 * 3650)  # recent papers are more common
        when = self.as_of - timedelta(days=age)
        has_code = rng.random() < 0.35
        score = 50.0 + rng.random() * 49.0
        affiliations = []
        if rng.random() < 0.5:
            for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
                org = self.orgs[bisect.bisect_left(self.org_cdf, rng.random())]
                if org not in affiliations:
                    affiliations.append(org)
        if rng.random() < 0.02:
            abstract: list[str] = []
        else:
            first = f"We study {' '.join(words[:4]).lower()} and {' '.join(words[4:]).lower()}."
            sentences = [first] + [self.sentences[rng.randrange(8192)] for _ in range(rng.randint(6, 9))]
            if rng.random() < 0.05:
                cut = len(sentences) // 2
                abstract = [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
            else:
                abstract = [" ".join(sentences)]
        return title, category, when, has_code, score, affiliations, abstract

    def _meta(self, rng: random.Random, category: str, when: date, has_code: bool, score: float) -> str:
        r = rng.random()
        shown = "" if r < 0.3 else str(round(score)) if r < 0.4 else f"{score + rng.uniform(-0.6, 0.6):.1f}"
        year_less_ok = (when.month, when.day) <= (self.as_of.month, self.as_of.day)
        year_less_ok = when.year == (self.as_of.year if year_less_ok else self.as_of.year - 1)
        dated = "" if year_less_ok and rng.random() < 0.85 else f", {when.year}"
        return f"{shown}{category}{MONTHS[when.month - 1]} {when.day}{dated}{'Code' if has_code else ''}"

    def profile_id(self, owner: int) -> str:
        return f"{owner:06d}_{(owner * 2654435761 + self.seed * 97) % 2**64:016x}"

    def profile_text(self, owner: int) -> tuple[str, bytes]:
        """The file name and bytes of *owner*'s profile."""
        rng = random.Random(self.seed * 1_000_033 + owner + 17)
        papers = list(self.listings[owner])
        rng.shuffle(papers)
        entries = []
        categories: dict[str, int] = {}
        for pid in papers:
            title, category, when, has_code, score, affiliations, abstract = self._paper(pid)
            categories[category] = categories.get(category, 0) + 1
            if rng.random() < 0.03:  # another rendering of the same title: same normalized key
                title = title.lower() if rng.random() < 0.5 else title.replace(":", " -", 1) + "."
            shown = self.shown_flat[self.shown_off[pid] : self.shown_off[pid + 1]]
            names = [self.owner_name(p) if p < self.n else self.person_name(p) for p in shown]
            line = ", ".join(names) + (" et al." if self.flags[pid] else "")
            if affiliations:
                line += " · " + ", ".join(affiliations)
            parts = [self._meta(rng, category, when, has_code, score), title, "", line]
            if abstract:
                paragraphs = abstract
                if rng.random() < 0.1 and len(abstract[0]) > 400:  # the page cut the abstract short
                    paragraphs = [abstract[0][: rng.randint(250, 400)].rstrip() + "…"]
                for paragraph in paragraphs:
                    parts += ["", paragraph]
            entries.append("\n".join(parts))
        primary = max(sorted(categories), key=lambda c: categories[c]) if categories else "LG"
        citations = int(rng.paretovariate(1.2) * 150)
        header = [self.owner_name(owner), "", primary, f"h-index{rng.randint(3, 90)}"]
        header.append(f"{len(papers) + int(rng.random() ** 3 * 40)}papers")
        header.append(f"{citations:,}citations" if rng.random() < 0.9 else f"{citations}citations")
        if rng.random() > 0.03:
            header.append(f"Novelty{rng.randint(20, 80)}%")
        if rng.random() > 0.02:
            header.append(f"AI Score{rng.randint(20, 90)}")
        header += ["", f"{len(papers)} Papers" if len(papers) != 1 else "1 Paper"]
        text = "\n".join(header) + "\n\n" + "\n\n".join(entries)
        if rng.random() < 0.2:
            text += "\n"
        if rng.random() < 0.01:
            text = text.replace("\n", "\r\n")
        data = text.encode("utf-8")
        if rng.random() < 0.01:
            data = b"\xef\xbb\xbf" + data
        return self.profile_id(owner) + ".txt", data

    # -- output --------------------------------------------------------------------------

    def manifest(self) -> dict:
        rng = random.Random(self.seed + 4242)
        owners = sorted(rng.sample(range(self.n), min(self.n, 600)))
        hubs = [c * COMMUNITY_OWNERS for c in range(min(self.communities, 40))]
        others = sorted(rng.sample(range(self.n, self.people), min(self.people - self.n, 300)))
        same = [o for o in range(100, self.n, 200)][:50]
        return {
            "generator": "bench/generate.py",
            "version": VERSION,
            "seed": self.seed,
            "profiles": self.n,
            "papers": self.papers,
            "listings": sum(len(x) for x in self.listings),
            "as_of": self.as_of.isoformat(),
            "communities": self.communities,
            "owners": [{"profile_id": self.profile_id(o), "name": self.owner_name(o)} for o in owners],
            "hubs": [
                {"profile_id": self.profile_id(o), "name": self.owner_name(o), "listings": len(self.listings[o])}
                for o in hubs
            ],
            "same_name_owners": [
                {"name": self.owner_name(o), "profile_ids": [self.profile_id(o - 50), self.profile_id(o)]} for o in same
            ],
            "listed_only": [self.person_name(p) for p in others],
            "title_words": self.title_vocab[:400],
            "rare_words": self.rare_words[:400],
            "categories": list(CATEGORIES),
            "affiliations": self.orgs[:40],
        }

    def write(self, out: Path) -> int:
        out.mkdir(parents=True, exist_ok=True)
        written = 0
        for owner in range(self.n):
            name, data = self.profile_text(owner)
            (out / name).write_bytes(data)
            written += len(data)
        (out / MANIFEST).write_text(json.dumps(self.manifest(), ensure_ascii=False, indent=1), encoding="utf-8")
        return written


def generate(out: str | Path, profiles: int, seed: int = 1, as_of: date = AS_OF) -> dict:
    """Write *profiles* profile files (and the manifest) into *out*; return the manifest."""
    gen = Generator(profiles, seed, as_of)
    gen.write(Path(out))
    return gen.manifest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder (created)")
    parser.add_argument("--profiles", type=int, default=1000, help="number of profile files (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--as-of", default=AS_OF.isoformat(), help="reference date, YYYY-MM-DD (default %(default)s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    gen = Generator(args.profiles, args.seed, date.fromisoformat(args.as_of))
    size = gen.write(args.out)
    print(
        f"wrote {args.profiles} profiles ({gen.papers} papers, {sum(len(x) for x in gen.listings)} listings, "
        f"{size / 1e6:.1f} MB) to {args.out} in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
