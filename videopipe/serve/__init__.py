"""``videopipe serve``: an OpenAI-compatible video QA server with a web page, safe by default.

A face like ``videopipe.cli``: it uses the pipeline (and its split into a CPU stage and a
model stage), and nothing in videopipe imports it except the ``serve`` command.

    from videopipe.serve.app import create_app
    from videopipe.serve.settings import ServeSettings

    app = create_app(ServeSettings(config=PipelineConfig(model="fake"), allow_dirs=("videos",)))

Modules: ``settings`` (what the command line sets), ``paths`` (which files and URLs a request
may name), ``hosts`` (which ``Host`` and ``Origin`` a request may carry), ``listen`` (the
socket, bound before the model loads), ``worker`` (the model worker and its queue),
``schemas`` (request/response models), ``errors`` (the OpenAI error shape, server paths kept
out of messages), ``media`` (thumbnails, video files), ``app`` (the FastAPI application and
its routes), ``static/`` (the web page).
"""
