"""vLLM-style media options per request: ``mm_processor_kwargs`` / ``media_io_kwargs`` (``fps``,
``num_frames``, ``max_pixels``/``min_pixels``) become pipeline options; a small video may come
inline as a ``data:`` URL; a part's ``uuid`` names a video so later requests need not send it."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from tests.serve.conftest import Media
from tests.serve.inprocess import chat_body, fake_client, refused
from videopipe.serve.media_options import media_overrides


def _stats(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()["videopipe"]["stats"]


def test_media_options_map_onto_the_pipeline(media: Media, tmp_path: Path) -> None:
    duration = media.durations["red.mp4"]
    with fake_client(tmp_path, allow_dirs=(media.allowed,), max_body_bytes=1 << 22) as c:
        post = lambda **kw: c.post("/v1/chat/completions", json=chat_body("red.mp4", **kw))  # noqa: E731
        assert _stats(post(mm_processor_kwargs={"num_frames": 6}))["frames_selected"] == 6
        by_fps = _stats(post(media_io_kwargs={"video": {"fps": 1.0}}))["frames_selected"]
        assert by_fps == math.ceil(duration * 1.0)
        # mm_processor_kwargs wins over media_io_kwargs
        both = post(media_io_kwargs={"video": {"num_frames": 4}}, mm_processor_kwargs={"num_frames": 5})
        assert _stats(both)["frames_selected"] == 5
        small = _stats(post(mm_processor_kwargs={"max_pixels": 56 * 56}))
        large = _stats(post())
        assert small["tokens_before"] < large["tokens_before"]  # smaller frames, fewer tokens
        err = refused(post(mm_processor_kwargs={"do_resize": True}), 400)
        assert "do_resize" in err["message"]
        refused(post(mm_processor_kwargs={"fps": -1}), 400)


def test_pixel_bounds_set_the_shorter_side() -> None:
    kw = {"duration_s": 10.0, "width": 160, "height": 90, "size_px": 448}
    assert media_overrides({}, **kw) == {}
    side = media_overrides({"max_pixels": 224 * 224}, **kw)["size_px"]
    assert side * side * 16 / 9 <= 224 * 224 < (side + 1) ** 2 * 16 / 9
    assert media_overrides({"min_pixels": 100, "max_pixels": 10**7}, **kw) == {}
    assert media_overrides({"min_pixels": 600 * 600}, **kw)["size_px"] >= 600 * 3 / 4
    assert media_overrides({"fps": 2}, **kw) == {"num_frames": 20}
    assert media_overrides({"fps": 2, "num_frames": 7}, **kw) == {"num_frames": 7}


def test_a_small_video_inline_as_a_data_url(media: Media, tmp_path: Path) -> None:
    data = base64.b64encode(media.videos["red.mp4"].read_bytes()).decode()
    uri = f"data:video/mp4;base64,{data}"
    with fake_client(tmp_path, max_body_bytes=1 << 22) as c:  # no --allow-dir needed
        r = c.post("/v1/chat/completions", json=chat_body(uri))
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "The screen is red."
        vp = r.json()["videopipe"]
        assert vp["video"] == "data:video/mp4" and "videopipe-inline" not in r.text
        folder = c.app.state.served.store._dir
        assert folder is not None and list(folder.iterdir()) == []  # deleted with the request
        refused(c.post("/v1/chat/completions", json=chat_body("data:video/mp4;base64,@@@")), 400)
        refused(c.post("/v1/chat/completions", json=chat_body("data:text/plain;base64,aGk=")), 400)
    with fake_client(tmp_path, max_body_bytes=4096) as c:  # the body limit bounds inline videos
        refused(c.post("/v1/chat/completions", json=chat_body(uri)), 413)


def _by_uuid(uuid: str, question: str = "What colour?") -> dict[str, Any]:
    body = chat_body("unused", question)
    body["messages"][0]["content"][0] = {"type": "video_url", "uuid": uuid}
    return body


def test_a_uuid_names_a_video_for_later_requests(media: Media, tmp_path: Path) -> None:
    data = base64.b64encode(media.videos["green.mp4"].read_bytes()).decode()
    with fake_client(tmp_path, allow_dirs=(media.allowed,), max_body_bytes=1 << 22) as c:
        refused(c.post("/v1/chat/completions", json=_by_uuid("never-sent")), 400, code="unknown_uuid")
        first = chat_body("blue.mp4")
        first["messages"][0]["content"][0]["uuid"] = "clip-1"
        assert c.post("/v1/chat/completions", json=first).status_code == 200
        again = c.post("/v1/chat/completions", json=_by_uuid("clip-1"))
        assert again.json()["choices"][0]["message"]["content"] == "The screen is blue."
        assert _stats(again)["cached"] and _stats(again)["frames_decoded"] == 0
        inline = chat_body(f"data:video/mp4;base64,{data}")
        inline["messages"][0]["content"][0]["uuid"] = "clip-2"
        assert c.post("/v1/chat/completions", json=inline).status_code == 200
        r = c.post("/v1/chat/completions", json=_by_uuid("clip-2"))
        assert r.json()["choices"][0]["message"]["content"] == "The screen is green."
        assert r.json()["videopipe"]["video"] == "data:video"
        # a named path is checked again on use: the name does not widen what may be read
        out = chat_body(str(media.secret))
        out["messages"][0]["content"][0]["uuid"] = "clip-3"
        refused(c.post("/v1/chat/completions", json=out), 403)
        refused(c.post("/v1/chat/completions", json=_by_uuid("clip-3")), 400, code="unknown_uuid")


def _png(rgb: tuple[int, int, int]) -> str:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (112, 84), rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_image_url_parts_are_the_frames_of_a_video(media: Media, tmp_path: Path) -> None:
    from videopipe.testing.fake_model import NEEDLE_COLORS

    grey, red = (90, 90, 90), tuple(NEEDLE_COLORS["red"])
    images = [_png(grey), _png(red), _png(grey), _png(grey)]
    body = chat_body("unused")
    body["messages"][0]["content"] = [
        *({"type": "image_url", "image_url": {"url": u}} for u in images),
        {"type": "text", "text": "What colour is the screen?"},
    ]
    with fake_client(tmp_path, max_body_bytes=1 << 22) as c:
        r = c.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "The screen is red."
        vp = r.json()["videopipe"]
        assert vp["video"] == "images" and vp["stats"]["frames_selected"] == 4  # one frame per image
        assert all(0 <= h["start_s"] <= 4 for h in vp["evidence"])
        body["messages"][0]["content"][0] = {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,AAAA"},
        }
        refused(c.post("/v1/chat/completions", json=body), 400)
