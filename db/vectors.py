"""Paper embeddings for hybrid ranking: the optional ``[semantic]`` extra (wordllama).

wordllama's wheel ships its weights and tokenizer, so the model is loaded from the package's own
folder with downloads disabled (never from the network), once per process, on first use. A paper's
vector embeds its title and abstract; it is stored scaled to int8 (256 bytes), since cosine
similarity only needs its direction.

Ingest keeps ``paper_vectors`` in step with ``papers`` (:func:`refresh`, called where the full-text
index is synced, inside the batch's transaction). ``meta.vector_model`` names the model when, and
only when, every paper has a vector from it: the tools rank ``hybrid`` only then.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw

if TYPE_CHECKING:  # numpy comes with the extra; the base install never imports it
    import numpy as np

MODEL_NAME = "wordllama-0.4/l2_supercat_256"
DIM = 256
META_KEY = "vector_model"
EMBED_BATCH = 512  # papers embedded (and written) at a time, bounding memory
INSTALL_HINT = 'pip install "scholar-catalog[semantic]"'

_lock = threading.Lock()
_model: Any = None
_load_error: str | None = None


def installed() -> bool:
    """Whether the extra's package is importable (cheap: does not load the model)."""
    return importlib.util.find_spec("wordllama") is not None


def _load() -> Any:
    global _model, _load_error
    with _lock:
        if _model is None and _load_error is None:
            if not installed():
                _load_error = f"the semantic extra is not installed ({INSTALL_HINT})"
            else:
                try:
                    import wordllama
                    from wordllama import WordLlama

                    # The package folder holds tokenizers/ and weights/ exactly as a download cache would.
                    folder = Path(wordllama.__file__).parent
                    _model = WordLlama.load(cache_dir=folder, disable_download=True)
                except Exception as err:  # a broken install must not break lexical ranking
                    _load_error = f"the embedding model failed to load: {err}"
        return _model


def available() -> bool:
    """Whether the embedding model is installed and loads (loaded once per process, on first call)."""
    return _load() is not None


def load_error() -> str | None:
    """Why :func:`available` is false, if it is."""
    _load()
    return _load_error


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings of *texts*, one row each."""
    import numpy as np

    model = _load()
    if model is None:
        raise RuntimeError(_load_error or "no embedding model")
    vectors = np.asarray(model.embed(texts, batch_size=64), dtype=np.float32).reshape(len(texts), DIM)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def quantize(vectors: np.ndarray) -> list[bytes]:
    """int8 rows, each scaled so its largest component is ±127 (the direction is what counts)."""
    import numpy as np

    scale = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-9)
    return [row.tobytes() for row in np.rint(vectors / scale * 127).astype(np.int8)]


def paper_text(title: str, abstract: str | None) -> str:
    return f"{title}. {abstract or ''}".strip()


# -- ingest ---------------------------------------------------------------------------------------


def stored_model(conn: sqlite3.Connection | apsw.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchone()
    return row[0] if row else None


def _write(conn: sqlite3.Connection, ids: list[int]) -> None:
    """Embed and store the papers *ids* (those that still exist), EMBED_BATCH at a time."""
    for start in range(0, len(ids), EMBED_BATCH):
        rows = conn.execute(
            "SELECT id, title, abstract FROM papers WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids[start : start + EMBED_BATCH])],
        ).fetchall()
        if rows:
            blobs = quantize(embed([paper_text(r[1], r[2]) for r in rows]))
            conn.executemany(
                "INSERT OR REPLACE INTO paper_vectors (paper_id, vec) VALUES (?, ?)",
                [(r[0], blob) for r, blob in zip(rows, blobs, strict=True)],
            )


def refresh(conn: sqlite3.Connection, paper_ids: Iterable[int]) -> None:
    """Bring the vectors of *paper_ids* (papers new, changed or deleted) up to date, in the caller's transaction.

    Without the extra nothing is embedded: the touched papers' old vectors are dropped and the catalog
    stops claiming complete vectors. With it, a catalog not yet complete for this model (built without
    the extra, or with another model) gets every missing vector here, once.
    """
    ids = list(paper_ids)
    if not ids and (not installed() or stored_model(conn) == MODEL_NAME):
        return  # nothing touched and nothing to catch up on: loading the model would be wasted (~1 s)
    if ids:
        conn.execute("DELETE FROM paper_vectors WHERE paper_id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])
    if not available():
        if ids:
            conn.execute("DELETE FROM meta WHERE key = ?", [META_KEY])
        return
    _write(conn, ids)
    if stored_model(conn) != MODEL_NAME:
        if stored_model(conn) is not None:  # another model's vectors: not comparable with this one's
            conn.execute("DELETE FROM paper_vectors")
        missing = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM papers WHERE id NOT IN (SELECT paper_id FROM paper_vectors) ORDER BY id"
            )
        ]
        _write(conn, missing)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [META_KEY, MODEL_NAME])


# -- reading ---------------------------------------------------------------------------------------


def method(conn: sqlite3.Connection | apsw.Connection) -> tuple[str, str | None]:
    """("hybrid", None) when the catalog's vectors are the loadable model's, else ("lexical", how to get hybrid).

    The model is loaded only for a catalog that has its vectors.
    """
    try:
        stored = stored_model(conn)
    except (sqlite3.Error, apsw.Error):  # a reader's (APSW) or a writer's (sqlite3) connection
        stored = None
    if stored == MODEL_NAME and available():
        return "hybrid", None
    if installed() and stored != MODEL_NAME:
        return "lexical", (
            "The catalog has no embedding vectors for this model: re-run `scholar-catalog ingest` "
            "with the semantic extra installed for hybrid (by meaning) ranking."
        )
    error = load_error() if installed() else None
    if error:
        return "lexical", f"Hybrid ranking is off: {error}."
    return "lexical", f"For hybrid (by meaning) ranking: {INSTALL_HINT}, then re-run `scholar-catalog ingest`."


class Matrix:
    """Every paper's vector, as one int8 matrix (256 bytes a paper), rows in paper id order."""

    def __init__(self, conn: sqlite3.Connection | apsw.Connection) -> None:
        import numpy as np

        count = conn.execute("SELECT count(*) FROM paper_vectors").fetchone()[0]
        ids = np.empty(count, dtype=np.int64)
        vecs = np.zeros((count, DIM), dtype=np.int8)
        n = 0
        # Filled row by row: no list of blobs next to the matrix (its peak memory is the matrix itself).
        for paper_id, blob in conn.execute("SELECT paper_id, vec FROM paper_vectors ORDER BY paper_id"):
            if n < count and isinstance(blob, bytes) and len(blob) == DIM:
                ids[n] = paper_id
                vecs[n] = np.frombuffer(blob, dtype=np.int8)
                n += 1
        self.ids, self.vecs = ids[:n], vecs[:n]
        norms = np.sqrt(np.einsum("ij,ij->i", self.vecs, self.vecs, dtype=np.float32))
        self.inverse_norms = 1.0 / np.maximum(norms, 1e-9)

    def _row(self, paper_id: int) -> int | None:
        import numpy as np

        i = int(np.searchsorted(self.ids, paper_id))
        return i if i < len(self.ids) and self.ids[i] == paper_id else None

    def vector(self, paper_id: int) -> np.ndarray | None:
        """The paper's unit vector, or None if it has none."""
        i = self._row(paper_id)
        if i is None:
            return None
        return self.vecs[i].astype("float32") * self.inverse_norms[i]

    def cosines(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of every paper (in ``ids`` order) to *query*, quantized to int8 like the papers.

        Integer dot products accumulated in int32 (exact, and with no float copy of the matrix: 40-80 ms
        at 250,000 papers here, where widening the matrix to float32 for BLAS took 250 ms).
        """
        import numpy as np

        q = np.asarray(quantize(query.reshape(1, -1).astype(np.float32))[0])
        q = np.frombuffer(q, dtype=np.int8)
        norm = float(np.sqrt(np.dot(q.astype(np.int32), q.astype(np.int32))))
        dots = np.einsum("ij,j->i", self.vecs, q, dtype=np.int32).astype(np.float32)
        return dots * (self.inverse_norms / max(norm, 1e-9))

    def nearest(self, query: np.ndarray, k: int, exclude: int | None = None) -> list[tuple[int, float]]:
        """The *k* papers closest to *query*: (paper_id, cosine), best first, ties by id."""
        import numpy as np

        scores = self.cosines(query)
        own = self._row(exclude) if exclude is not None else None
        if own is not None:
            scores[own] = -np.inf
        k = min(k, len(scores))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((self.ids[top], -scores[top]))]
        return [(int(self.ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]
