"""The messages of the batch executors: one frozen dataclass per message.

They cross process boundaries (the local pool's pipes, Ray's object store), so each is a
plain picklable dataclass of a module-level class, and :class:`Role` is str-valued (its
value is what a worker process is named after and what a pickle stores). Both ends dispatch
on the class with ``match``; nothing is unpacked by position.

Supervisor -> worker (a task, or the order to stop):

``PrepareTask``  prepare one video (``prepare`` workers)
``AnswerTask``   answer a prepared video's jobs (``answer`` workers)
``FullTask``     prepare and answer one video (``full`` workers)
``Shutdown``     exit the worker loop

Worker -> supervisor:

``Ready``          the worker built its stages and takes tasks
``InitFailed``     building a stage raised (the batch aborts)
``RecordDone``     one finished record (ok or error)
``VideoPrepared``  a prepared value (also the Ray prepare task's result)
``PrepareFailed``  the prepare stage raised (also the Ray prepare task's result)
``TaskDone``       the current task is finished; the worker is free
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from videopipe.batch.jobs import Job

__all__ = [
    "AnswerTask",
    "FullTask",
    "InitFailed",
    "PrepareFailed",
    "PrepareResult",
    "PrepareTask",
    "Ready",
    "RecordDone",
    "Role",
    "Shutdown",
    "Task",
    "TaskDone",
    "ToSupervisor",
    "ToWorker",
    "VideoPrepared",
]


class Role(str, Enum):
    """What a worker process does (and which task it takes)."""

    FULL = "full"  # prepare + answer in one process
    PREPARE = "prepare"  # the CPU stage only
    ANSWER = "answer"  # the model stage only

    @property
    def doing(self) -> str:
        """The role's work in a sentence: "while {doing} VIDEO"."""
        return _DOING[self]


_DOING = {Role.PREPARE: "preparing", Role.ANSWER: "answering questions about", Role.FULL: "processing"}


# -- supervisor -> worker ---------------------------------------------------------------------
@dataclass(frozen=True)
class PrepareTask:
    """Prepare ``video`` and send back its prepared value."""

    role: ClassVar[Role] = Role.PREPARE
    video: str


@dataclass(frozen=True)
class AnswerTask:
    """Answer ``jobs`` (one video's) on ``prepared``; ``prepare_s`` is added to each record's time."""

    role: ClassVar[Role] = Role.ANSWER
    jobs: tuple[Job, ...]
    prepared: Any
    attempts: int
    prepare_s: float

    @property
    def video(self) -> str:
        return self.jobs[0].video


@dataclass(frozen=True)
class FullTask:
    """Prepare ``video`` and answer its ``jobs`` in this worker."""

    role: ClassVar[Role] = Role.FULL
    video: str
    jobs: tuple[Job, ...]
    attempts: int


@dataclass(frozen=True)
class Shutdown:
    """Leave the worker loop (the batch is over)."""


Task = PrepareTask | AnswerTask | FullTask
ToWorker = Task | Shutdown


# -- worker -> supervisor ---------------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    """The worker built its stages and waits for a task."""


@dataclass(frozen=True)
class InitFailed:
    """Building the worker's stages raised; the batch cannot go on (the supervisor raises
    ``BatchAbort`` with the worker's ``traceback``, shown with ``--debug``)."""

    error_type: str
    message: str
    traceback: str


@dataclass(frozen=True)
class RecordDone:
    """One finished output record (ok or error) of the current task."""

    record: dict[str, Any]


@dataclass(frozen=True)
class VideoPrepared:
    """A video's prepared value and the seconds its preparation took. The value must be
    picklable: a worker that cannot send it sends :class:`PrepareFailed` instead."""

    video: str
    prepared: Any
    prepare_s: float


@dataclass(frozen=True)
class PrepareFailed:
    """The prepare stage raised on ``video``: every job of it becomes an error record."""

    video: str
    error_type: str
    message: str
    elapsed_s: float


@dataclass(frozen=True)
class TaskDone:
    """The current task is finished; the worker takes the next one."""


PrepareResult = VideoPrepared | PrepareFailed
ToSupervisor = Ready | InitFailed | RecordDone | VideoPrepared | PrepareFailed | TaskDone
