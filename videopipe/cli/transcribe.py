"""``videopipe transcribe VIDEO``: the speech of a video as subtitles (SRT/VTT) or JSON;
``videopipe transcribe FOLDER --out DIR``: every video of a folder, resumably."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from videopipe.cli.common import STATE, echo_notes, err, print_json
from videopipe.cli.options import JobAsrModel, Quiet
from videopipe.cli.outputs import check_output_dir, check_output_file, write_output
from videopipe.errors import ConfigError

if TYPE_CHECKING:
    from videopipe.text.speech import ASRConfig
    from videopipe.text.timeline import Timeline


def transcribe(
    path: Path = typer.Argument(
        ..., help="A video file, or a folder of videos (searched recursively) with --out."
    ),
    srt: Path | None = typer.Option(None, "--srt", help="Write SubRip subtitles to this file ('-': stdout)."),
    vtt: Path | None = typer.Option(None, "--vtt", help="Write WebVTT subtitles to this file ('-': stdout)."),
    json_out: bool = typer.Option(False, "--json", help="Print the timeline as JSON (lines, times, notes)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder input: write one subtitle file per video under this folder."
    ),
    fmt: str = typer.Option("srt", "--format", help="Folder input: srt, vtt or json."),
    glob: str | None = typer.Option(None, "--glob", help='Folder input: file-name pattern, e.g. "*.mp4".'),
    asr_model: JobAsrModel = None,
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    compute_type: str | None = typer.Option(
        None, "--compute-type", help="CTranslate2 compute type (default: int8 on CPU, float16 on CUDA)."
    ),
    language: str | None = typer.Option(
        None, "--language", help="Spoken language code (default: detected by a multilingual model)."
    ),
    no_vad: bool = typer.Option(
        False, "--no-vad", help="Transcribe silence too (no voice-activity detection)."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Transcribe again even when a transcript is cached."
    ),
    quiet: Quiet = False,
) -> None:
    """Transcribe the speech of PATH (faster-whisper with voice-activity detection).

    One video: SRT on stdout unless --srt/--vtt/--json say otherwise. A folder needs --out:
    one file per video, mirroring the folder; videos already transcribed there are skipped (rerun
    to continue), a bad video is reported and the others go on; exit code 1 if any failed."""
    from videopipe.text.speech import ASRConfig

    asr = ASRConfig(
        model=asr_model, device=device, compute_type=compute_type, language=language, vad=not no_vad
    )
    if path.is_dir():
        if out is None:
            raise ConfigError(f"{path} is a folder: pass --out DIR for the subtitle files")
        if srt or vtt or json_out:
            raise ConfigError("--srt/--vtt/--json take one video; for a folder use --out DIR --format FMT")
        check_output_dir(out, "--out")
        failed = _folder(path, out, fmt=fmt, glob=glob, asr=asr, cache=not no_cache, quiet=quiet)
        if failed:
            raise typer.Exit(1)
        return
    if out is not None or glob is not None:
        raise ConfigError("--out/--glob take a folder input; for one video use --srt/--vtt/--json")
    if sum(x is not None and x is not False for x in (srt, vtt, json_out or None)) > 1:
        raise ConfigError("choose one of --srt, --vtt and --json")
    for dest, option in ((srt, "--srt"), (vtt, "--vtt")):
        if dest is not None and str(dest) != "-":
            check_output_file(dest, option)  # before minutes of transcription
    timeline = _one(path, asr, cache=not no_cache, quiet=quiet)
    echo_notes(timeline.notes)
    if json_out:
        print_json(timeline.to_dict())
    elif vtt is not None:
        _emit(vtt, _render(timeline, "vtt"), "--vtt")
    else:
        _emit(srt if srt is not None else Path("-"), _render(timeline, "srt"), "--srt")


def _one(path: Path, asr: ASRConfig, *, cache: bool, quiet: bool, label: str | None = None) -> Timeline:
    from videopipe.cli.common import text_progress_bar
    from videopipe.text.build import load_timeline
    from videopipe.text.timeline import TextSource

    with text_progress_bar(label or path.name, quiet=quiet) as progress:  # a bar only where someone watches
        return load_timeline(path, (TextSource.speech,), asr=asr, cache=cache, progress=progress)


def _render(timeline: Timeline, fmt: str) -> str:
    from videopipe.text.formats import to_srt, to_vtt

    if fmt == "json":
        return json.dumps(timeline.to_dict(), indent=2) + "\n"
    return to_vtt(timeline.lines) if fmt == "vtt" else to_srt(timeline.lines)


def _emit(dest: Path, text: str, option: str) -> None:
    if str(dest) == "-":
        typer.echo(text, nl=False)
        return
    write_output(dest, text, option)


def _folder(
    folder: Path, out: Path, *, fmt: str, glob: str | None, asr: object, cache: bool, quiet: bool
) -> int:
    """Transcribe every video under ``folder`` into ``out``; returns how many failed."""
    from videopipe.batch.inputs import discover_videos
    from videopipe.cli.common import report_error
    from videopipe.errors import VideoPipeError

    if fmt not in ("srt", "vtt", "json"):
        raise ConfigError(f"--format {fmt!r} is not one of srt, vtt, json")
    videos = [Path(v) for v in discover_videos(folder, glob=glob)]
    done = skipped = failed = 0
    for k, video in enumerate(videos, 1):
        dest = out / video.relative_to(folder).with_suffix(f".{fmt}")
        if dest.is_file():  # written atomically: present means complete
            skipped += 1
            continue
        try:
            timeline = _one(video, asr, cache=cache, quiet=quiet, label=f"{video.name} ({k}/{len(videos)})")
            write_output(dest, _render(timeline, fmt), "--out")
            done += 1
        except VideoPipeError as e:
            err(f"{video}: {e}" if str(video) not in str(e) else str(e))
            failed += 1
        except Exception as e:  # noqa: BLE001 - one bad video never loses the others
            if STATE.debug:
                report_error(e)
            err(f"{video}: internal error: {type(e).__name__}: {e}")
            failed += 1
    typer.echo(f"{out}: {len(videos)} videos ({done} transcribed, {skipped} already done, {failed} failed)")
    return failed
