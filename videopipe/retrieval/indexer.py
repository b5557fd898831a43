"""Index folders of videos into an :class:`~videopipe.retrieval.store.IndexStore`, incrementally.

For every video under the given paths:

1. *unchanged* — same size and mtime (video and subtitle sidecar) as indexed: nothing is read
   (the driver's scan reads stats only; every other video is hashed by whoever does its work,
   so the progress shows at once and, on an executor, the hashing runs on every worker);
2. *touched* — stat differs but the content key (sha1 of the bytes) is the same: only the
   stat is updated, nothing re-embedded;
3. *reused* — a segment for this content already exists (a copy of an indexed file, or a file
   finished by a run that was killed before committing it): committed without embedding;
4. *embedded* — new or changed content: segmented, embedded, written as a new segment.

Videos that were indexed under one of the given folders (or given by name) and no longer
exist are dropped. Progress is committed every ``commit_every`` videos (and at least every
``commit_every_s`` seconds), so a killed run resumes where it stopped, without duplicates:
entries are keyed by path, segments by content. At the end the FAISS index for the final
set is built (type by size, see ``faiss_index``) and old files are garbage-collected.

What is indexed -- embedder, segmentation, frames per clip, captioner -- is an
:class:`IndexOptions`; its values left as None are those of the existing index, or the
defaults for a new one (:meth:`IndexOptions.resolve`).

A damaged index folder is repaired by the run (see :meth:`IndexStore.writer`): videos whose
segment was lost are re-embedded, intact segments are kept, and ``IndexReport.repaired`` lists
what was damaged. One video that cannot be decoded or embedded -- whatever it raises -- is
recorded in ``IndexReport.failed`` (one line naming the file) and the run goes on.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.errors import InputError
from videopipe.retrieval.encode import Captioner, captioner_name
from videopipe.retrieval.index_report import (
    IndexReport,
    ProgressFn,
    Unchanged,
    failure_message,
)
from videopipe.retrieval.index_run import IndexRun, ToCheck
from videopipe.retrieval.resolve import embedder_options as recorded_options
from videopipe.retrieval.resolve import index_embedder, resolve_embedder
from videopipe.retrieval.segment import FixedWindows, SceneWindows, make_segmenter
from videopipe.retrieval.store import (
    CONFIG_NAME,
    IndexConfig,
    IndexStore,
    video_path,
)
from videopipe.retrieval.stored import stored_config
from videopipe.retrieval.video_work import KnownContent, ModelsOnce, work_video
from videopipe.text.build import TextProgress
from videopipe.text.sources import choose_sources, text_key
from videopipe.text.subtitles import find_sidecar
from videopipe.text.timeline import TextSource

if TYPE_CHECKING:
    from videopipe.batch.run import Executor
    from videopipe.retrieval.faiss_index import AutoConfig

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp"}
)

#: what a new index is built with when IndexOptions leaves a value unset
DEFAULT_EMBEDDER = "text"
DEFAULT_SEGMENTATION = "fixed"
DEFAULT_WINDOW_S = {"fixed": 20.0, "scenes": 60.0}  # scenes: the longest clip
DEFAULT_OVERLAP_S = 5.0
DEFAULT_FRAMES_PER_CLIP = 4


@dataclass(frozen=True)
class IndexOptions:
    """What an index is built with; None: the existing index's value, or the default for a new
    index (embedder ``text``, ``segmentation="fixed"`` 20 s windows with 5 s overlap, 4 frames
    per clip; ``segmentation="scenes"`` makes one clip per shot, ``window_s`` (default 60)
    being the longest clip).

    embedder:          an ``EMBEDDERS`` name, ``"module:Class"`` or an embedder object
    embedder_options:  its constructor's options (e.g. ``{"model_id": ...}``); None: the
                       existing index's when it uses the same embedder, else none
    captioner:         a hook ``(video, spans) -> one caption per span`` whose captions join
                       the clips' texts; its ``name`` is recorded
    text:              the text sources of the clips' texts (``"subtitles,speech,screen"``,
                       ``"none"``, ``"auto"``: subtitles + speech when the speech extra is
                       installed); see :mod:`videopipe.text.sources`
    asr_model:         the speech model (a faster-whisper name or directory; None: the bundled
                       tiny.en)
    speech_with_subtitles: transcribe subtitled videos too and keep both (default: subtitles win)

    A value that differs from an existing index's is an
    :class:`~videopipe.errors.IndexStoreError` when the index is opened for writing."""

    embedder: str | Any | None = None
    embedder_options: Mapping[str, Any] | None = None
    segmentation: str | None = None
    window_s: float | None = None
    overlap_s: float | None = None
    frames_per_clip: int | None = None
    captioner: Captioner | None = None
    text: str | None = None
    asr_model: str | None = None
    speech_with_subtitles: bool | None = None

    def resolve(self, existing: IndexConfig | None, directory: Path | None = None) -> ResolvedIndexOptions:
        """Every value decided: this one's where set, else ``existing``'s (the index's stored
        config, read from ``directory``; None for a new index), else the default. The existing
        window and overlap hold only for the same kind of segmentation. The existing embedder
        is created only when it is a registered one (see
        :func:`~videopipe.retrieval.resolve.index_embedder`); an unusable stored value is an
        error naming ``directory``'s videopipe-index.json."""
        if existing is not None:
            config_file = Path(directory or ".") / CONFIG_NAME
            with _stored(directory, self.embedder is None):
                name, emb = index_embedder(
                    existing, config_file, self.embedder, options=self.embedder_options
                )
        else:
            spec = _first(self.embedder, DEFAULT_EMBEDDER)
            name, emb = resolve_embedder(spec, **dict(self.embedder_options or {}))
        old_kind = existing.segmentation.split(":", 1)[0] if existing else None
        kind = self.segmentation or old_kind or DEFAULT_SEGMENTATION
        same = existing if existing is not None and existing.segmentation.startswith(kind + ":") else None
        with _stored(directory, existing is not None and self.segmentation is None):
            seg = make_segmenter(
                kind,
                window_s=_first(
                    self.window_s,
                    same.window_s if same else None,
                    DEFAULT_WINDOW_S.get(kind, DEFAULT_WINDOW_S[DEFAULT_SEGMENTATION]),
                ),
                overlap_s=_first(self.overlap_s, same.overlap_s if same else None, DEFAULT_OVERLAP_S),
            )
        fpc = _first(
            self.frames_per_clip, existing.frames_per_clip if existing else None, DEFAULT_FRAMES_PER_CLIP
        )
        if fpc < 1:
            raise InputError(f"frames_per_clip must be >= 1, got {fpc}")
        asr_model = self.asr_model if self.asr_model is not None else _asr_of(existing)
        chosen = choose_sources(
            self.text if self.text is not None else (existing.text if existing else None), asr_model=asr_model
        )
        both = _first(
            self.speech_with_subtitles,
            ("speech-with-subtitles" in existing.text_key) if existing else None,
            False,
        )
        config = IndexConfig(
            embedder=name,
            space=str(emb.space),
            dim=int(emb.dim),
            segmentation=seg.key,
            window_s=seg.window_s if isinstance(seg, FixedWindows) else seg.max_window_s,
            overlap_s=seg.overlap_s if isinstance(seg, FixedWindows) else 0.0,
            frames_per_clip=fpc,
            embedder_options=recorded_options(emb),
            captioner=captioner_name(self.captioner),
            text=chosen.spec,
            text_key=text_key(chosen.sources, asr_model=asr_model, subtitles_win=not both),
            asr_model=asr_model or "",
        )
        return ResolvedIndexOptions(
            embedder=emb,
            segmenter=seg,
            frames_per_clip=fpc,
            captioner=self.captioner,
            config=config,
            sources=chosen.sources,
            asr_model=asr_model,
            notes=chosen.notes,
            subtitles_win=not both,
        )


@dataclass(frozen=True)
class ResolvedIndexOptions:
    """:class:`IndexOptions` with every value decided: the objects that index the videos and
    the config the index records (``config``)."""

    embedder: Any
    segmenter: FixedWindows | SceneWindows
    frames_per_clip: int
    captioner: Captioner | None
    config: IndexConfig
    sources: tuple[TextSource, ...] = ()
    asr_model: str | None = None
    notes: tuple[str, ...] = ()  # why a source of "auto" was left out
    subtitles_win: bool = True


def _asr_of(existing: IndexConfig | None) -> str | None:
    return existing.asr_model or None if existing is not None else None


def _stored(directory: Path | None, from_file: bool) -> AbstractContextManager[None]:
    """:func:`stored_config` when the values come from ``directory``'s stored config."""
    return stored_config(directory) if from_file and directory is not None else nullcontext()


def _first(*values: Any) -> Any:
    """The first value that is not None."""
    return next(v for v in values if v is not None)


def collect_videos(paths: Sequence[str | Path], *, glob: str | None = None) -> tuple[list[Path], list[Path]]:
    """(video files, folders searched) for ``paths``: files are taken as given, folders are
    searched recursively for ``glob`` (default: every file with a video suffix)."""
    files: list[Path] = []
    roots: list[Path] = []
    if not paths:
        raise InputError("no paths to index; give one or more video files or folders")
    for raw in paths:
        p = video_path(raw)
        if p.is_dir():
            roots.append(p)
            found = p.rglob(glob) if glob else p.rglob("*")
            files.extend(
                f for f in found if f.is_file() and (glob is not None or f.suffix.lower() in VIDEO_SUFFIXES)
            )
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{raw} does not exist; give video files or folders to index")
    return sorted(set(files)), roots


def _under(path: str, roots: list[Path]) -> bool:
    return any(Path(path).is_relative_to(r) for r in roots)


def index_paths(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    options: IndexOptions | None = None,
    *,
    glob: str | None = None,
    index_type: str = "auto",
    index_auto: AutoConfig | None = None,
    commit_every: int = 8,
    commit_every_s: float = 30.0,
    lock_timeout_s: float = 30.0,
    progress: ProgressFn | None = None,
    text_progress: TextProgress | None = None,
    executor: Executor | Callable[[int], Executor | None] | None = None,
) -> IndexReport:
    """Add ``paths`` (files and folders) to the index at ``index_dir``, creating it if new.

    ``options`` say what the index is built with (embedder, segmentation, frames per clip,
    captioner; see :class:`IndexOptions`); those left unset take the existing index's values,
    or the defaults for a new one. Folders are searched for ``glob`` (default: video
    suffixes); ``index_type`` is the FAISS index type (``auto``: chosen by the recall target of
    ``index_auto``, default recall@10 >= 0.95, measured on the vectors; see ``faiss_index``).

    ``executor``: where the per-video work runs (an ``EXECUTORS`` executor of
    :func:`~videopipe.batch.run.make_executor`: local worker processes or Ray; None: this
    process, one video after another; or a function of the number of videos to embed that
    returns one, as ``--workers auto`` does). Whatever runs it, this process alone writes the
    index (see :mod:`videopipe.retrieval.parallel`)."""
    if commit_every < 1:
        raise InputError(f"commit_every must be >= 1, got {commit_every}")
    t_run = time.perf_counter()
    store = IndexStore(index_dir)
    # a damaged config: the copy the writer restores
    existing = store.stored_config()
    resolved = (options or IndexOptions()).resolve(existing, store.directory)
    files, roots = collect_videos(paths, glob=glob)
    given = {str(f) for f in files}
    report = IndexReport(index_dir=str(store.directory), videos=len(files), notes=list(resolved.notes))

    with store.writer(resolved.config, lock_timeout_s=lock_timeout_s) as w:
        report.repaired = list(w.repairs)
        for path in sorted(w.lost):  # a video whose clips were lost is re-embedded, given or not
            if path not in given and Path(path).is_file():
                files.append(Path(path))
            elif path not in given:
                report.repaired.append(f"{path}: dropped (its clips were lost and the video is gone)")
        files.sort()
        report.videos = len(files)
        for path in list(w.entries):
            if path not in given and (_under(path, roots) or path in {str(video_path(p)) for p in paths}):
                w.remove(path)
                report.removed += 1
        run = IndexRun(w, report, commit_every, commit_every_s, progress)
        todo: dict[str, ToCheck] = {}  # path -> a video to hash (then touch, reuse or embed)
        t0 = time.perf_counter()
        for f in files:
            try:
                found = _scan(w, f)
            except Exception as e:  # noqa: BLE001 - one bad video never aborts the run
                run.failed(
                    str(f), failure_message(f, e), type(e).__name__, "".join(traceback.format_exception(e))
                )
                continue
            if isinstance(found, ToCheck):
                todo[str(f)] = found
            else:
                run.outcome(str(f), found)
        report.add_stages({"scan": time.perf_counter() - t0})
        run.start(todo)
        if callable(executor):
            executor = executor(len(todo))
        if executor is None:
            ours = options is None or options.embedder is None or isinstance(options.embedder, str)
            _index_here(run, todo, resolved, text_progress, warm_embedder=ours)
        else:
            _index_on(executor, run, todo, options or IndexOptions(), existing, store.directory, resolved)
        run.finish()
        t0 = time.perf_counter()
        meta = w.build_index(index_type, auto=index_auto)
        t1 = time.perf_counter()
        report.commits += 1 if w.version != w.base_version else 0
        w.garbage_collect()
        report.add_stages({"index_build": t1 - t0, "gc": time.perf_counter() - t1})
        report.version = w.version
        report.index_kind = meta.kind
        report.index = meta.describe()
        report.total_clips = sum(e.n_clips for e in w.entries.values())
        report.without_clips = sorted(p for p in given if p in w.entries and w.entries[p].n_clips == 0)
    report.seconds = time.perf_counter() - t_run
    return report


class _Segments:
    """The content keys of the writer's readable segments, as they are now (a container)."""

    def __init__(self, w: Any) -> None:
        self.w = w

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.w.has_segment(key)


def _index_here(
    run: IndexRun,
    todo: dict[str, ToCheck],
    opts: ResolvedIndexOptions,
    text_progress: TextProgress | None,
    *,
    warm_embedder: bool,
) -> None:
    """The per-video work in this process, one video after another: hashed, then touched,
    reused or embedded (``warm_embedder``: load the embedder's weights with the other models
    before the first video to embed, when this run created it)."""
    from videopipe.retrieval.parallel import VideoFailed

    models = ModelsOnce(opts, embedder=warm_embedder)
    known = _Segments(run.w)
    for path, t in list(todo.items()):
        run.show(path)
        try:
            found = work_video(t.path, known, opts, before_embed=models.load, text_progress=text_progress)
        except Exception as e:  # noqa: BLE001 - one bad video never aborts the run
            tb = "".join(traceback.format_exception(e))
            run.video_failed(VideoFailed(path, failure_message(t.path, e), type(e).__name__, tb))
            continue
        run.report.add_stages(models.take_seconds())
        if isinstance(found, KnownContent):
            run.known(found)
        else:
            run.clips(found)


def _index_on(
    executor: Executor,
    run: IndexRun,
    todo: dict[str, ToCheck],
    options: IndexOptions,
    existing: IndexConfig | None,
    directory: Path,
    resolved: ResolvedIndexOptions,
) -> None:
    """The per-video work on ``executor``'s workers (hashing included); the results come back
    here. The workers know the content keys of the index's segments as the run starts."""
    from videopipe.batch.local import LocalExecutor
    from videopipe.retrieval.parallel import index_spec, run_on_executor, threads_per_worker

    if not todo:
        return
    local = isinstance(executor, LocalExecutor)
    threads = threads_per_worker(min(executor.workers, len(todo))) if local else 0
    run.report.executor = executor.describe()
    run.report.workers = min(executor.workers, len(todo)) if local else executor.workers
    known = run.w.segment_keys()
    spec = index_spec(options, existing, directory, resolved.config, threads=threads, known=known)
    videos = [(t.path, f"{t.fields['size']}:{t.fields['mtime_ns']}") for t in todo.values()]
    run_on_executor(executor, videos, spec, run.clips, run.known, run.video_failed)


def _stat_entry_fields(f: Path) -> dict[str, Any]:
    st = f.stat()
    side = find_sidecar(f)
    fields: dict[str, Any] = {"path": str(f), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if side is not None:
        sst = side.stat()
        fields.update(sidecar=str(side), sidecar_size=sst.st_size, sidecar_mtime_ns=sst.st_mtime_ns)
    return fields


def _scan(w: Any, f: Path) -> Unchanged | ToCheck:
    """What ``f`` needs, from its stat alone: nothing, or hashing (then touch, reuse or embed)."""
    fields = _stat_entry_fields(f)
    old = w.entries.get(str(f))
    if (
        old is not None
        and all(getattr(old, k) == v for k, v in fields.items())
        and (old.sidecar is None or "sidecar" in fields)
    ):
        return Unchanged()
    return ToCheck(f, fields)
