"""The text stage's cost: ASR real-time factor, flat memory over long audio, and OCR with the
cheap picture selection against OCR of every frame at 1 fps.

    python benchmarks/speech.py            # full run (about 10 minutes on 2 cores)
    python benchmarks/speech.py --quick    # smoke test (shorter videos, nothing written)

* **ASR** (bundled Whisper tiny.en, int8, VAD on, the defaults): a *dense* talk (sentences back
  to back, the case of a real lecture) and the generated 30-minute talk of 24 topics (mostly
  silence between them). Real-time factor = seconds of audio per second of CPU (user + system,
  all threads) and per second of wall time; word error rate against the script.
* **Memory**: peak RSS of a fresh process that transcribes 10, 30 and 60 minutes of talk audio
  (streamed: flat), and, as the baseline in the same run, of one that runs faster-whisper on
  the file path with the same model and options (it decodes the whole track into memory first,
  so its peak grows with the length).
* **OCR** (rapidocr PP-OCRv4): the 16-slide video (170 s, 640x360) read with the default
  selection (keyframes + a probe every 2 s, bisected boundaries, one OCR per picture), against
  the baseline of OCR on every frame at 1 fps; OCR frames per second, frames chosen per hour of
  video, and whether every slide's span is within 1 s. A moving picture (ffmpeg ``testsrc2``,
  whose counter changes every frame) is the worst case of the selection.
* **Index** of a 60-minute lecture (the 24-topic talk's audio over 24 slides, one per topic):
  the whole ``videopipe index`` process (fresh cache, so ASR and OCR really run) with
  ``--text speech`` (the baseline) and ``--text speech,screen``, in the same run: wall and CPU
  seconds, clips, and the ratio of the two.

Writes benchmarks/results/speech.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import cpu_name  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, which Linux carries
    across ``execve`` from the parent, it starts afresh in a new process)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- child processes (fresh, so that peak RSS is the case's own) --------------------------------
def child_asr(video: str, script_json: str) -> dict:
    from videopipe.testing.speech import SpeechScript, word_error_rate
    from videopipe.text.speech import ASRConfig, load_asr_model, transcribe_audio

    config = ASRConfig()
    load_asr_model(config)  # model load is not transcription
    rss0 = _peak_rss_mb()
    c0, t0 = _cpu_s(), time.perf_counter()
    result = transcribe_audio(video, config)
    cpu, wall = _cpu_s() - c0, time.perf_counter() - t0
    script = SpeechScript.from_dict(json.loads(Path(script_json).read_text()))
    return {
        "audio_s": result.audio_s,
        "speech_s": sum(ln.end_s - ln.start_s for ln in script.lines),
        "cpu_s": cpu,
        "wall_s": wall,
        "rtf_cpu": result.audio_s / cpu,
        "rtf_wall": result.audio_s / wall,
        "lines": len(result.lines),
        "wer": word_error_rate(script.text, " ".join(ln.text for ln in result.lines)),
        "rss_after_load_mb": rss0,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_whole_file(video: str) -> dict:
    """The baseline: faster-whisper on the file path, as its README shows (it decodes the whole
    track into memory first), with the same model and options."""
    from videopipe.text.speech import ASRConfig, load_asr_model

    config = ASRConfig()
    model = load_asr_model(config)
    c0, t0 = _cpu_s(), time.perf_counter()
    segments, info = model.transcribe(
        video,
        language="en",
        beam_size=config.beam_size,
        vad_filter=True,
        vad_parameters={"min_silence_duration_ms": config.vad_min_silence_ms},
        word_timestamps=True,
        condition_on_previous_text=False,
    )
    n = len(list(segments))
    cpu, wall = _cpu_s() - c0, time.perf_counter() - t0
    return {
        "audio_s": info.duration,
        "cpu_s": cpu,
        "wall_s": wall,
        "rtf_cpu": info.duration / cpu,
        "segments": n,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_child(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode != 0:
        raise RuntimeError(f"child {args} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# -- the cases ------------------------------------------------------------------------------------
def _script_file(path: Path) -> str:
    return str(path.with_suffix(".script.json"))


def dense_talk(duration_s: float) -> list[tuple[float, str, str]]:
    """The talk's sentences back to back (about 1 s apart), cycling through the topics."""
    from videopipe.testing.speech import TALK_TOPICS

    sentences = [(t, s) for t, ss in TALK_TOPICS for s in ss]
    out, t, k = [], 1.0, 0
    while t < duration_s - 6.0:
        topic, s = sentences[k % len(sentences)]
        out.append((round(t, 2), s, topic))
        t += 1.0 + 0.07 * len(s)
        k += 1
    return out


def bench_asr(quick: bool) -> list[dict]:
    from videopipe.testing.speech import make_speech_video, talk_script

    rows = []
    dense_s = 60.0 if quick else 180.0
    path, _ = make_speech_video(dense_talk(dense_s), duration_s=dense_s, noise=0.003)
    rows.append(
        {"case": f"dense talk, {dense_s / 60:.0f} min", **_run_child("asr", str(path), _script_file(path))}
    )
    print(rows[-1])
    minutes = [10] if quick else [10, 30, 60]
    for m in minutes:
        path, _ = make_speech_video(talk_script(duration_s=60.0 * m), duration_s=60.0 * m, noise=0.003)
        row = {
            "case": f"24-topic talk, {m} min",
            "minutes": m,
            **_run_child("asr", str(path), _script_file(path)),
        }
        row["whole_file"] = _run_child("whole", str(path))
        rows.append(row)
        print(row)
    return rows


def _ocr_every_frame(path: Path, fps: float) -> dict:
    """The baseline: OCR of one frame per 1/fps seconds, consecutive repeats merged."""
    import numpy as np

    from videopipe.decode import open_video
    from videopipe.text.screen import OCR_COUNTERS, OCRConfig, ocr_engine, read_frame_text, same_text

    config = OCRConfig()
    engine = ocr_engine(config)
    before = OCR_COUNTERS.ocr_frames
    t0 = time.perf_counter()
    spans: list[list] = []
    with open_video(path) as reader:
        times = np.arange(0.0, reader.info.duration_s, 1.0 / fps)
        for t in times:
            rgb = np.asarray(reader.frames_at_times([float(t)]).data)[0]
            text, _ = read_frame_text(engine, rgb, config)
            if spans and same_text(spans[-1][2], text, ratio=config.merge_ratio):
                spans[-1][1] = t + 1.0 / fps
            elif text:
                spans.append([float(t), float(t) + 1.0 / fps, text])
    wall = time.perf_counter() - t0
    frames = OCR_COUNTERS.ocr_frames - before
    return {"ocr_frames": frames, "wall_s": wall, "spans": spans}


def _span_errors(spans: list[tuple[float, float, str]], slides) -> tuple[int, float]:
    """(slides found, worst start/end error in s) of ``spans`` against the slides."""
    from videopipe.testing.speech import normalize_words

    found, worst = 0, 0.0
    for s in slides:
        want = normalize_words(s.title)
        hits = [sp for sp in spans if sum(w in set(normalize_words(sp[2])) for w in want) >= 0.75 * len(want)]
        if len(hits) == 1:
            found += 1
            worst = max(worst, abs(hits[0][0] - s.start_s), abs(hits[0][1] - s.end_s))
    return found, worst


def bench_ocr(quick: bool) -> list[dict]:
    import numpy as np

    from videopipe.testing.slides import default_slides, make_slides_video
    from videopipe.testing.videos import make_long_video
    from videopipe.text.screen import OCRConfig, ocr_engine, read_screen

    ocr_engine(OCRConfig())(np.zeros((64, 64, 3), np.uint8))  # load the models before timing
    rows = []
    path, slides = make_slides_video(default_slides()[:5] if quick else None)
    duration = slides[-1].end_s
    t0 = time.perf_counter()
    sel = read_screen(path, OCRConfig())
    wall = time.perf_counter() - t0
    found, worst = _span_errors([(ln.start_s, ln.end_s, ln.text) for ln in sel.lines], slides)
    rows.append(
        {
            "case": f"{len(slides)} slides, {duration:.0f} s, 640x360",
            "method": "selected pictures (default)",
            "duration_s": duration,
            "ocr_frames": sel.pictures,
            "probes": sel.probes,
            "wall_s": wall,
            "ocr_frames_per_hour": sel.pictures / duration * 3600,
            "slides_found": found,
            "slides": len(slides),
            "worst_span_error_s": worst,
        }
    )
    print(rows[-1])
    base = _ocr_every_frame(path, 1.0)
    found, worst = _span_errors(base["spans"], slides)
    rows.append(
        {
            "case": rows[-1]["case"],
            "method": "every frame at 1 fps (baseline)",
            "duration_s": duration,
            "ocr_frames": base["ocr_frames"],
            "probes": 0,
            "wall_s": base["wall_s"],
            "ocr_frames_per_hour": base["ocr_frames"] / duration * 3600,
            "slides_found": found,
            "slides": len(slides),
            "worst_span_error_s": worst,
        }
    )
    print(rows[-1])
    moving_s = 30.0 if quick else 120.0
    moving = make_long_video(moving_s, width=640, height=360, fps=25, gop=250)
    t0 = time.perf_counter()
    mv = read_screen(moving, OCRConfig())
    wall = time.perf_counter() - t0
    rows.append(
        {
            "case": f"moving picture (testsrc2), {moving_s:.0f} s, 640x360 25 fps",
            "method": "selected pictures (default)",
            "duration_s": moving_s,
            "ocr_frames": mv.pictures,
            "probes": mv.probes,
            "wall_s": wall,
            "ocr_frames_per_hour": mv.pictures / moving_s * 3600,
            "slides_found": None,
            "slides": None,
            "worst_span_error_s": None,
        }
    )
    print(rows[-1])
    return rows


def _lecture(minutes: int) -> Path:
    """The talk's audio over one slide per topic (title + first sentence), muxed into one mp4."""
    from videopipe.decode.probe import ffmpeg_bin
    from videopipe.testing.slides import Slide, make_slides_video
    from videopipe.testing.speech import TALK_TOPICS, make_speech_video, talk_script
    from videopipe.testing.videos import video_cache_dir

    d = 60.0 * minutes
    step = d / len(TALK_TOPICS)
    slides = [
        Slide(k * step, (k + 1) * step, topic.title(), sentences[0][:40])
        for k, (topic, sentences) in enumerate(TALK_TOPICS)
    ]
    video, _ = make_slides_video(slides, size=(640, 360), fps=2, gop_s=10.0)
    audio, _ = make_speech_video(talk_script(duration_s=d), duration_s=d, noise=0.003, video=False)
    out = video_cache_dir() / f"lecture-{minutes}min-{video.stem}-{audio.stem}.mp4"
    if not out.is_file():
        tmp = out.with_suffix(".tmp.mp4")
        cmd = [ffmpeg_bin(), "-v", "error", "-y", "-i", str(video), "-i", str(audio)]
        cmd += ["-map", "0:v", "-map", "1:a", "-c", "copy", "-shortest", str(tmp)]
        subprocess.run(cmd, check=True)
        tmp.replace(out)
    return out


def bench_index(quick: bool) -> list[dict]:
    import shutil
    import tempfile

    minutes = 10 if quick else 60
    lecture = _lecture(minutes)
    exe = shutil.which("videopipe") or str(Path(sys.executable).with_name("videopipe"))
    rows = []
    for text in ("speech", "speech,screen"):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, VIDEOPIPE_CACHE=str(Path(d) / "cache"))
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            cmd = [
                exe,
                "index",
                str(lecture),
                "--index",
                str(Path(d) / "idx"),
                "--text",
                text,
                "--json",
                "-q",
            ]
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode != 0:
                raise RuntimeError(f"index --text {text} failed: {r.stderr[-2000:]}")
            report = json.loads(r.stdout)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows.append({"case": f"{minutes}-minute lecture", "text": text, "wall_s": round(wall, 2),
                     "cpu_s": round(cpu, 2), "clips": report["total_clips"], "minutes": minutes})  # fmt: skip
        print(rows[-1])
    base = rows[0]
    for r in rows:
        r["wall_vs_speech_only"] = round(r["wall_s"] / base["wall_s"], 2)
    return rows


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Text stage: ASR, memory and OCR cost",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, faster-whisper {m['faster_whisper']}, "
        f"ctranslate2 {m['ctranslate2']}, rapidocr-onnxruntime {m['rapidocr']}; load average at start "
        f"{m['load_avg_start']:.1f} (other jobs may share the cores).",
        "",
        "## ASR (bundled Whisper tiny.en, int8 on the CPU, Silero VAD, beam 5, 240 s windows)",
        "",
        "RTF = seconds of audio per second of CPU (all threads) or of wall time; higher is faster.",
        "",
        "| audio | speech in it | wall s | CPU s | RTF (CPU) | RTF (wall) | lines | WER | peak RSS MB "
        "| baseline: faster-whisper on the whole file: peak RSS MB | baseline RTF (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["asr"]:
        base = r.get("whole_file")
        mem = f"{base['peak_rss_mb']:.0f} | {base['rtf_cpu']:.1f}x" if base else "- | -"
        lines.append(
            f"| {r['case']} | {r['speech_s']:.0f} s | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['rtf_cpu']:.1f}x "
            f"| {r['rtf_wall']:.1f}x | {r['lines']} | {r['wer']:.3f} | {r['peak_rss_mb']:.0f} | {mem} |"
        )
    lines += [
        "",
        "## Screen text (rapidocr PP-OCRv4, det limit 480 px)",
        "",
        "| video | method | OCR frames | probes decoded | wall s | OCR frames/s | OCR frames per hour of video "
        "| wall s per hour of video | slides found | worst span error s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["ocr"]:
        found = "-" if r["slides"] is None else f"{r['slides_found']}/{r['slides']}"
        worst = "-" if r["worst_span_error_s"] is None else f"{r['worst_span_error_s']:.2f}"
        lines.append(
            f"| {r['case']} | {r['method']} | {r['ocr_frames']} | {r['probes']} | {r['wall_s']:.1f} "
            f"| {r['ocr_frames'] / r['wall_s']:.2f} | {r['ocr_frames_per_hour']:.0f} "
            f"| {r['wall_s'] / r['duration_s'] * 3600:.0f} | {found} | {worst} |"
        )
    if res.get("index"):
        lines += [
            "",
            "## The whole `videopipe index` of a lecture (fresh cache: ASR and OCR run)",
            "",
            "| video | --text | wall s | CPU s | clips | wall vs --text speech |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in res["index"]:
            lines.append(
                f"| {r['case']} | {r['text']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['clips']} "
                f"| {r['wall_vs_speech_only']:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *args = sys.argv[2:]
        out = child_asr(*args) if kind == "asr" else child_whole_file(*args)
        print(json.dumps(out))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--only",
        choices=("asr", "ocr", "index"),
        help="Run one part; the others are kept from the results file.",
    )
    args = ap.parse_args()
    from importlib.metadata import version

    old = {}
    if args.only and (args.out / "speech.json").is_file():
        old = json.loads((args.out / "speech.json").read_text())

    load = os.getloadavg()[0]
    res = {
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "faster_whisper": version("faster-whisper"),
            "ctranslate2": version("ctranslate2"),
            "rapidocr": version("rapidocr-onnxruntime"),
            "load_avg_start": load,
        },
        "asr": old["asr"] if args.only not in (None, "asr") and old else bench_asr(args.quick),
        "ocr": old["ocr"] if args.only not in (None, "ocr") and old else bench_ocr(args.quick),
        "index": old.get("index", [])
        if args.only not in (None, "index") and old
        else bench_index(args.quick),
    }
    md = markdown(res)
    print(md)
    if args.quick:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speech.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "speech.md").write_text(md)


if __name__ == "__main__":
    main()
