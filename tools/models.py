"""Pydantic result models of the tools.

They are the tools' public contract: the MCP server publishes their JSON
schema as each tool's ``outputSchema`` and returns them as ``structuredContent``.
Field descriptions are written for the model reading the schema. Dates are ISO
``YYYY-MM-DD``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


MatchKind = Literal["exact", "normalized", "fuzzy", "profile_id"]


class Resolution(Model):
    """How a name argument was matched to a person in the catalog."""

    query: str = Field(description="The name as given.")
    resolved_to: str = Field(description="The catalog name it was resolved to.")
    profile_id: str | None = Field(description="The profile it resolved to; null for a name known only from lists.")
    match: MatchKind = Field(
        description="exact: same text; normalized: equal ignoring case/accents/punctuation; "
        "fuzzy: closest name (check it); profile_id: chosen by profile_id."
    )
    confidence: float = Field(description="1.0 for exact/normalized matches, else the fuzzy similarity 0–1.")


class PersonRef(Model):
    name: str
    profile_id: str | None = Field(default=None, description="Set when this person owns a profile.")


class PaperSummary(Model):
    paper_id: int
    title: str
    date: str
    category: str
    score: float | None = Field(description="Highest score any profile gave the paper; null if none gave one.")
    has_code: bool
    authors: list[str] = Field(description="Listed authors in order, then profile owners the truncated list hides.")
    authors_truncated: bool = Field(description="True when the source list ended in 'et al.'.")
    snippet: str | None = Field(default=None, description="Matching abstract text, matches in [brackets].")


class SearchPapersResult(Model):
    results: list[PaperSummary]
    total: int = Field(description="Number of papers matching (all pages); see `total_exact`.")
    total_exact: bool = Field(
        default=True, description="False when counting stopped at 10,000: there are more than `total`."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
    query_used: str | None = Field(
        default=None, description="The full-text query as run (words and phrases), after escaping."
    )
    author_resolved: Resolution | None = None
    fuzzy_fallback: bool = Field(
        default=False,
        description="True when no paper matched the words exactly and results are the closest titles instead.",
    )
    note: str | None = None


class PaperAuthor(Model):
    name: str
    position: int | None = Field(description="1-based place in the listed authors; null if hidden by 'et al.'.")
    profile_id: str | None = Field(description="The author's profile, when the author owns one.")
    known_as: Literal["listed", "profile_owner", "listed_profile_owner"] = Field(
        description="listed: named in the author list; profile_owner: the paper is in their profile "
        "(so they are an author even if the list hides them); listed_profile_owner: both."
    )


class Listing(Model):
    profile_id: str
    profile_name: str
    score: float | None
    category: str
    date: str
    date_raw: str = Field(description="The date as the profile wrote it (year-less dates resolved to `date`).")
    has_code: bool


class PaperDetail(Model):
    paper_id: int
    title: str
    date: str
    category: str
    has_code: bool
    abstract: str
    authors: list[PaperAuthor]
    authors_truncated: bool
    affiliations: list[str]
    listed_in: list[Listing] = Field(description="Every profile that lists this paper, with what it said.")


class CountItem(Model):
    value: str
    count: int


class Coauthor(Model):
    name: str
    profile_id: str | None
    shared_papers: int
    titles: list[str] = Field(description="Titles of shared papers (newest first, at most 5).")


class Candidate(Model):
    """A profile that matches an ambiguous name, with what tells it apart."""

    name: str
    profile_id: str
    primary_category: str | None
    h_index: int | None
    papers: int
    top_paper: str | None = Field(description="Its highest-scored (else newest) paper.")


class TopicTerm(Model):
    term: str
    weight: float = Field(description="How strongly the term marks this work apart from the catalog's (0–1).")


class AuthorResult(Model):
    name: str
    profile_id: str | None = Field(description="Null when the person is known only from author lists.")
    resolution: Resolution
    primary_category: str | None = None
    h_index: int | None = None
    citations: int | None = None
    papers_declared: int | None = Field(default=None, description="Paper count the profile states.")
    novelty: int | None = Field(default=None, description="Novelty percentage the profile states.")
    ai_score: int | None = None
    papers_in_catalog: int
    papers: list[PaperSummary] = Field(description="Newest first, up to `papers_limit` (default 10).")
    top_coauthors: list[Coauthor]
    categories: list[CountItem]
    years_active: list[int] = Field(description="[first, last] year of their papers in the catalog.")
    candidates: list[Candidate] = Field(
        default_factory=list,
        description="Set when several profiles share this name: the others, pick one with profile_id.",
    )
    topics: list[TopicTerm] = Field(
        default_factory=list,
        description="Up to 10 terms that set this person's work apart from the rest of the catalog, strongest first.",
    )
    note: str | None = None


class AuthorHit(Model):
    name: str
    profile_id: str | None
    h_index: int | None
    papers: int = Field(description="Papers in the catalog by this person.")
    primary_category: str | None
    score: float = Field(description="Match score 0–100.")


class SearchAuthorsResult(Model):
    results: list[AuthorHit]


class CoauthorsResult(Model):
    author: PersonRef
    resolution: Resolution
    coauthors: list[Coauthor]
    total: int = Field(description="Number of distinct coauthors.")
    note: str


class PaperRef(Model):
    paper_id: int
    title: str
    date: str


class SharedCoauthor(Model):
    name: str
    profile_id: str | None
    papers_with_a: list[PaperRef]
    papers_with_b: list[PaperRef]


class SharedCoauthorsResult(Model):
    author_a: Resolution
    author_b: Resolution
    shared: list[SharedCoauthor]
    direct: list[PaperRef] = Field(description="Papers A and B wrote together.")
    note: str


class Hop(Model):
    source: PersonRef = Field(alias="from")
    to: PersonRef
    paper: PaperRef

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PathResult(Model):
    author_a: Resolution
    author_b: Resolution
    found: bool
    hops: list[Hop] = Field(description="The chain from A to B, one coauthored paper per hop.")
    length: int | None = Field(description="Number of hops; null when no path was found.")
    note: str


class YearCount(Model):
    year: int
    papers: int


class SourceDir(Model):
    directory: str
    profiles: int


class StatsResult(Model):
    profiles: int
    papers: int
    authors: int = Field(description="Distinct people: profile owners plus names seen only in author lists.")
    listings: int = Field(description="Profile-to-paper listings (a paper listed by 3 profiles counts 3).")
    categories: list[CountItem]
    years: list[YearCount]
    built_at: str | None
    sources: list[SourceDir]
    ranking_method: Literal["lexical", "hybrid"] = Field(
        default="lexical",
        description="How find_experts, similar_papers and similar_authors rank: lexical (word statistics) "
        "or hybrid (also an embedding model).",
    )
    note: str | None = None


# -- questions by meaning (tools/topics.py, similar.py, trends.py) -------------------------------

Method = Literal["lexical", "hybrid"]


class Expert(Model):
    name: str
    profile_id: str | None = Field(description="Null for people known only from author lists.")
    score: float = Field(description="0–1, relative to the first result.")
    papers_on_topic: int = Field(description="Their papers that are clearly about the topic.")
    papers: int = Field(description="All their papers in the catalog (within the filters).")
    evidence: list[PaperRef] = Field(description="Up to 3 of their papers, most relevant first.")


class FindExpertsResult(Model):
    topic: str
    terms: list[str] = Field(description="The words the topic was matched on.")
    results: list[Expert]
    method: Method = Field(description="lexical: word statistics; hybrid: fused with an embedding model.")
    note: str | None = None


class PaperTitle(Model):
    paper_id: int
    title: str


class SimilarPaper(Model):
    paper_id: int
    title: str
    date: str
    similarity: float = Field(description="0–1 (cosine of the papers' term profiles).")
    shared_authors: list[str]
    why: str = Field(description="The distinctive terms both papers share.")


class SimilarPapersResult(Model):
    paper: PaperTitle
    results: list[SimilarPaper]
    method: Method
    note: str | None = None


class SimilarAuthor(Model):
    name: str
    profile_id: str | None
    similarity: float = Field(description="0–1 (cosine of the two people's topic profiles).")
    coauthor: bool = Field(description="True when they have written a paper together.")
    shared_topics: list[str] = Field(description="Distinctive terms of both people, strongest first.")


class SimilarAuthorsResult(Model):
    author: Resolution
    results: list[SimilarAuthor]
    method: Method
    note: str | None = None


class TrendBucket(Model):
    key: str = Field(description="The year (as text) or the category code.")
    papers: int
    with_code: int = Field(description="Of those, papers with code.")


class TopicTrendsResult(Model):
    query: str
    group_by: Literal["year", "category"]
    buckets: list[TrendBucket] = Field(description="Years in order (gaps filled with 0), or categories by count.")
    total: int = Field(description="Every matching paper (no page limit): the sum of the buckets.")
    query_used: str | None = Field(default=None, description="The full-text query as run, as in search_papers.")
    author_resolved: Resolution | None = None
    note: str | None = None
