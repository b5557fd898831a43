"""Search an index with a text query, and find the top-K clips of one video for a question.

- :class:`Retriever` opens an index (a consistent snapshot) and the embedder it was built
  with; ``search(query, k)`` returns :class:`~videopipe.types.Hit` s, best first.
- :func:`retrieve_clips` answers "which spans of *this* video matter for this question?"
  (used by ``ask --retrieve K`` to restrict sampling): from an index when the video is in it
  and unchanged, else by segmenting and embedding the video on the fly (nothing written).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from videopipe.errors import IndexStoreError, InputError
from videopipe.retrieval.encode import embed_clips
from videopipe.retrieval.faiss_index import exact_search
from videopipe.retrieval.resolve import index_embedder, resolve_embedder
from videopipe.retrieval.segment import FixedWindows
from videopipe.retrieval.store import IndexStore, LineTable, Snapshot, video_path
from videopipe.retrieval.stored import stored_config

if TYPE_CHECKING:
    from videopipe.text.timeline import Timeline
    from videopipe.types import Hit


def check_query(query: str, k: int) -> None:
    if not isinstance(query, str) or not query.strip():
        raise InputError("the search query is empty; give a few words describing what to find")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")


def embed_query(embedder: Any, query: str) -> np.ndarray:
    v = embedder.embed_texts([query]).float().numpy().reshape(-1)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


class Retriever:
    """Search one index. ``embedder`` defaults to the one the index was built with when that
    is a registered embedder; an index built with a custom ``"package.module:Class"`` is
    searched with that spec (or the embedder object) given here, since nothing an index folder
    names is imported. Another embedder must produce the same space (else
    :class:`~videopipe.errors.IndexStoreError`)."""

    def __init__(
        self, index_dir: str | Path, *, embedder: str | Any | None = None, device: str = "auto"
    ) -> None:
        self.store = IndexStore(index_dir)
        cfg = self.store.config()
        self.snapshot: Snapshot = self.store.open_snapshot()  # damage is found before a model loads
        # the index names its embedder; only a registered one is created from that name
        with stored_config(self.store.directory) if embedder is None else nullcontext():
            _, self.embedder = index_embedder(cfg, self.store.config_path, embedder)
        if str(self.embedder.space) != cfg.space:
            raise IndexStoreError(
                f"index {self.store.directory} holds vectors of space {cfg.space!r} (videopipe-index.json); "
                f"the query embedder "
                f"makes {self.embedder.space!r}. Spaces cannot be mixed: search with embedder {cfg.embedder!r}"
            )
        self.device = device

    def refresh(self) -> bool:
        """Reload if a writer committed a newer snapshot; True when it did."""
        if self.store.current_version() != self.snapshot.version:
            self.snapshot = self.store.open_snapshot()
            return True
        return False

    def __len__(self) -> int:
        return len(self.snapshot)

    def index_info(self, *, video: str | Path | None = None) -> dict[str, Any]:
        """What answers a search: the snapshot's FAISS index as recorded at build time
        (``kind``, ``params``, ``recall_at_10``, ``ms_per_query``, ``device``); a search inside
        one ``video`` is exact (``kind`` ``"exact"``)."""
        if video is not None:
            return {"kind": "exact", "params": {}, "recall_at_10": 1.0, "ms_per_query": None, "device": "cpu"}
        return self.snapshot.index_info(device=self.device)

    def search(self, query: str, k: int = 5, *, video: str | Path | None = None) -> list[Hit]:
        """The ``k`` clips most similar to ``query`` (only ``video``'s clips when given); each
        hit names the line of its text that matched best (``Hit.match``, with that line's own
        span) when the index keeps its videos' text lines and embeds text."""
        check_query(query, k)
        q = embed_query(self.embedder, query)
        hits = self.search_vector(q, k, video=video)
        if self.embedder.modality != "text":
            return hits
        lines = self.snapshot.lines
        return with_matches(hits, q, self.embedder, lambda h: lines.get(h.video))

    def search_image(self, image: Any, k: int = 5, *, video: str | Path | None = None) -> list[Hit]:
        """The ``k`` clips most similar to an image (uint8 [H, W, 3] RGB array/tensor, or an
        image file) — for indexes whose embedder has an image space (``clip``, ``vision``)."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        x = load_image(image)
        v = self.embedder.embed_images(x[None]).float().numpy().reshape(-1)
        return self.search_vector(
            (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32), k, video=video
        )

    def search_vector(self, vector: np.ndarray, k: int = 5, *, video: str | Path | None = None) -> list[Hit]:
        """Hits for a unit query vector. Overlapping windows of one video often hold the same
        subtitle line; such a repeat of a better hit (same video, overlapping span, same
        non-empty text) is skipped, so the ``k`` hits are ``k`` different places."""
        from videopipe.types import Hit

        snap = self.snapshot
        if len(snap) == 0:
            return []
        want = min(len(snap), 3 * k + 8)
        if video is not None:
            rows = snap.rows_of(video)
            scores, local = exact_search(snap.vectors[rows], vector, want)
            ids = rows[local[0]]
            scores = scores[0]
        else:
            s, i = snap.vector_index(device=self.device).search(vector, want)
            keep = i[0] >= 0
            ids, scores = i[0][keep], s[0][keep]
        hits: list[Hit] = []
        for r, sc in zip(ids.tolist(), scores.tolist()):
            h = Hit(
                video=snap.video_of_row(r),
                start_s=float(snap.starts_s[r]),
                end_s=float(snap.ends_s[r]),
                score=float(sc),
                text=snap.texts[r],
                source=snap.sources[r] if snap.sources else "",
            )
            if not any(_repeats(h, g) for g in hits):
                hits.append(h)
            if len(hits) == k:
                break
        return hits


def load_image(image: Any) -> Any:
    """uint8 [H, W, 3] torch tensor from an image file, a numpy array or a tensor."""
    import torch

    if isinstance(image, (str, Path)):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(image) as im:
                arr = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as e:
            raise InputError(f"query image {image} cannot be read ({e})") from None
        return torch.from_numpy(arr.copy())
    t = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image)
    if t.dtype != torch.uint8 or t.ndim != 3 or t.shape[-1] != 3:
        raise InputError(f"query image must be uint8 [H, W, 3] RGB, got {t.dtype} {tuple(t.shape)}")
    return t


def with_matches(
    hits: list[Hit], query: np.ndarray, embedder: Any, lines_of: Callable[[Hit], LineTable | None]
) -> list[Hit]:
    """``hits`` with ``match`` set: the line (of those overlapping each hit) whose embedding is
    closest to the unit ``query`` vector. The lines of every hit are embedded in one batch."""
    from videopipe.types import TextMatch

    cands: list[tuple[int, LineTable, int]] = []  # (hit, its lines, line index)
    for h_i, h in enumerate(hits):
        table = lines_of(h)
        if table is None or not len(table):
            continue
        cands.extend((h_i, table, j) for j in table.overlapping(h.start_s, h.end_s))
    if not cands:
        return hits
    texts = sorted({t.texts[j] for _, t, j in cands})
    vecs = embedder.embed_texts(texts).float().numpy()
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    score_of = dict(zip(texts, (vecs @ query).tolist()))
    best: dict[int, tuple[float, LineTable, int]] = {}
    for h_i, t, j in cands:
        s = score_of[t.texts[j]]
        if h_i not in best or s > best[h_i][0]:
            best[h_i] = (s, t, j)
    out = list(hits)
    for h_i, (s, t, j) in best.items():
        m = TextMatch(
            start_s=float(t.starts_s[j]),
            end_s=float(t.ends_s[j]),
            text=t.texts[j],
            source=t.sources[j],
            score=float(s),
        )
        out[h_i] = replace(out[h_i], match=m)
    return out


def _repeats(h: Hit, better: Hit) -> bool:
    return (
        bool(h.text)
        and h.text == better.text
        and h.video == better.video
        and h.start_s < better.end_s
        and better.start_s < h.end_s
    )


def search(query: str, index_dir: str | Path, *, k: int = 5, embedder: str | Any | None = None) -> list[Hit]:
    """One-shot :meth:`Retriever.search`."""
    check_query(query, k)
    return Retriever(index_dir, embedder=embedder).search(query, k)


def _with_context(hit: Hit, context_s: float, duration_s: float | None) -> Hit:
    if context_s <= 0:
        return hit
    end = hit.end_s + context_s
    return replace(
        hit, start_s=max(0.0, hit.start_s - context_s), end_s=min(end, duration_s) if duration_s else end
    )


def retrieve_clips(
    video: str | Path,
    question: str,
    *,
    k: int = 5,
    index_dir: str | Path | None = None,
    embedder: str | Any = "text",
    window_s: float = 20.0,
    overlap_s: float = 5.0,
    context_s: float = 0.0,
    timeline: Timeline | None = None,
) -> list[Hit]:
    """The top-``k`` clip spans of ``video`` for ``question``, best first, each widened by
    ``context_s`` on both sides (clamped to the video).

    With ``index_dir`` holding this video (same path, size and mtime), its stored clips are
    searched (with the index's own embedder, or ``embedder`` if it is an embedder object of the
    index's space); otherwise the video is cut into
    ``window_s`` windows and embedded now with ``embedder``. A video with no clip vectors
    (e.g. the ``text`` embedder and no subtitles) gives an empty list: the caller should
    fall back to sampling the whole video."""
    check_query(question, k)
    if context_s < 0:
        raise InputError(f"context_s must be >= 0, got {context_s}")
    from videopipe.retrieval.segment import probe_duration_s

    path = video_path(video)
    duration = probe_duration_s(path)
    if index_dir is not None:
        store = IndexStore(index_dir)
        recorded = store.config().embedder
        st = path.stat()
        entry = next((e for e in store.read_entries() if e.path == str(path)), None)
        if entry is not None and entry.size == st.st_size and entry.mtime_ns == st.st_mtime_ns:
            # reuse a loaded model of that space, or the user's spec of the index's embedder
            own = None if isinstance(embedder, str) and embedder != recorded else embedder
            hits = Retriever(index_dir, embedder=own).search(question, k, video=path)
            return [_with_context(h, context_s, duration) for h in hits]
    from videopipe.types import Hit

    _, emb = resolve_embedder(embedder)
    spans = FixedWindows(window_s=window_s, overlap_s=overlap_s).spans(duration)
    if timeline is None:
        from videopipe.text.build import load_timeline

        timeline = load_timeline(path, "subtitles")
    enc = embed_clips(path, spans, emb, timeline=timeline)
    if len(enc) == 0:
        return []
    q = embed_query(emb, question)
    scores, ids = exact_search(enc.vectors, q, len(enc))
    hits: list[Hit] = []
    for i, s in zip(ids[0].tolist(), scores[0].tolist()):
        h = Hit(
            video=str(path),
            start_s=float(enc.starts_s[i]),
            end_s=float(enc.ends_s[i]),
            score=float(s),
            text=enc.texts[i],
            source=enc.sources[i],
        )
        if not any(_repeats(h, g) for g in hits):
            hits.append(h)
        if len(hits) == k:
            break
    if emb.modality == "text":
        table = LineTable.of(timeline.lines)
        hits = with_matches(hits, q, emb, lambda _h: table)
    return [_with_context(h, context_s, duration) for h in hits]
