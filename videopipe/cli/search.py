"""``videopipe search "query" --index DIR``: the clips of an index most similar to a query."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.common import print_json


def search(
    query: str | None = typer.Argument(None, help="What to look for, in words (or use --image)."),
    image: Path | None = typer.Option(
        None, "--image", help="Search with an image instead (indexes built with 'clip' or 'vision')."
    ),
    index_dir: Path = typer.Option(..., "--index", help="Index directory built by `videopipe index`."),
    k: int = typer.Option(5, "-k", "--top-k", help="Number of hits."),
    video: Path | None = typer.Option(None, "--video", help="Only search the clips of this video."),
    queries: Path | None = typer.Option(
        None,
        "--queries",
        help="A file of queries, one per line ('-': standard input), answered in one run (the "
        "embedder loads once); --json then prints {index, results: [{query, hits}]}.",
    ),
    json_out: bool = typer.Option(
        False,
        "--json",
        help="Print JSON {query, index, faiss: {kind, params, recall_at_10, ms_per_query}, hits}.",
    ),
    embedder: str | None = typer.Option(
        None,
        "--embedder",
        help="The embedder to embed the query with (default: the index's own). An index built with a "
        "custom package.module:Class needs it given here: nothing an index folder names is imported.",
    ),
) -> None:
    """Print the top-K clips (video, start_s, end_s, score, text) for QUERY (or --image), best first,
    each with the line of its text that matched (source and its own span) when there is one."""
    from videopipe.errors import InputError, file_problem
    from videopipe.retrieval.search import Retriever, check_query
    from videopipe.retrieval.store import IndexStore

    if queries is not None:
        if query or image is not None:
            raise InputError("give a query, --image or --queries, not two of them")
        return _many(_read_queries(queries), index_dir, k, video, json_out, embedder)
    if image is not None:
        if query:
            raise InputError("give a text query or --image, not both")
        if not image.is_file():
            raise InputError(f"query image {image} {file_problem(image)}")
    else:
        check_query(query or "", k)
    IndexStore(index_dir).require()  # fail fast, before torch and the embedder load
    retriever = Retriever(index_dir, embedder=embedder)
    if image is not None:
        hits = retriever.search_image(image, k, video=video)
        query = str(image)
    else:
        hits = retriever.search(query or "", k, video=video)
    if json_out:
        out = {"query": query, "index": str(index_dir), "faiss": retriever.index_info(video=video)}
        print_json({**out, "hits": [h.to_dict() for h in hits]})
        return
    if not hits:
        if len(retriever) == 0:
            typer.echo("no hits (the index is empty)")
        else:
            typer.echo(f"no hits ({video} has no clips in this index)" if video is not None else "no hits")
    _print_hits(hits)


def _print_hits(hits: list) -> None:
    for rank, h in enumerate(hits, 1):
        text = (h.text[:100] + "...") if len(h.text) > 100 else h.text
        typer.echo(f"{rank:>2}. {h.score:6.3f}  {h.video}  {h.start_s:9.2f}-{h.end_s:.2f}s  {text}")
        if h.match is not None:
            m = h.match
            typer.echo(f"      {m.source} {m.start_s:.2f}-{m.end_s:.2f}s: {m.text[:100]}")


def _read_queries(path: Path) -> list[str]:
    import sys

    from videopipe.errors import InputError, file_problem
    from videopipe.textfile import read_utf8

    if str(path) == "-":
        text = sys.stdin.read()
    elif not path.is_file():
        raise InputError(f"queries file {path} {file_problem(path)}")
    else:
        text = read_utf8(path, "queries file")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"queries file {path} holds no query (one per line)")
    return lines


def _many(
    queries: list[str], index_dir: Path, k: int, video: Path | None, json_out: bool, embedder: str | None
) -> None:
    from videopipe.retrieval.search import Retriever, check_query
    from videopipe.retrieval.store import IndexStore

    for q in queries:
        check_query(q, k)
    IndexStore(index_dir).require()
    retriever = Retriever(index_dir, embedder=embedder)
    results = [(q, retriever.search(q, k, video=video)) for q in queries]
    if json_out:
        print_json(
            {
                "index": str(index_dir),
                "results": [{"query": q, "hits": [h.to_dict() for h in hits]} for q, hits in results],
            }
        )
        return
    for q, hits in results:
        typer.echo(f"query: {q}")
        if hits:
            _print_hits(hits)
        else:
            typer.echo("no hits")
