"""videopipe.batch: run the pipeline over folders of videos (resumable, fault-isolated).

Registry entries are declared here (lazily, as "module:attr"); see ``docs/batch.md``.
"""

from videopipe.registry import EXECUTORS as _REG

_REG.register(
    "local",
    "videopipe.batch.local:LocalExecutor",
    summary="supervised worker processes on this machine (default; no Ray needed)",
)
_REG.register(
    "ray",
    "videopipe.batch.ray_executor:RayExecutor",
    summary="Ray cluster: CPU prepare tasks feeding model actors (num_gpus=1 each when GPUs exist)",
)
