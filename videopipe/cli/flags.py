"""How a command takes a set of shared options: a :class:`Flag` declares one (its parameter,
typer type, default and the record field it sets), and :func:`with_flags` puts a set of them in
a command's signature in place of one keyword-only parameter, which then receives the record
they build (``pipeline: PipelineFlags``, ``executor: ExecutorFlags``, ``server: ServerFlags``)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["F", "Flag", "with_flags"]


@dataclass(frozen=True)
class Flag:
    """One shared option: the command parameter ``name``, its typer type and default, and the
    field it sets (``to_field``: the flag's value -> the field's, None: leave it unset)."""

    name: str
    annotation: Any
    config_field: str
    default: Any = None
    to_field: Callable[[Any], Any] = field(default=lambda v: v)


F = TypeVar("F", bound=Callable[..., Any])


def with_flags(target: str, flags: Sequence[Flag], build: Callable[..., Any]) -> Callable[[F], F]:
    """Replace the command's keyword-only parameter ``target`` by ``flags`` (what typer sees),
    and call the command with ``target=build(values of the flags, flags)``."""

    def decorate(command: F) -> F:
        sig = inspect.signature(command, eval_str=True)
        if target not in sig.parameters:
            raise TypeError(f"{command.__name__} has no keyword-only parameter {target!r} for its options")
        params: list[inspect.Parameter] = []
        for p in sig.parameters.values():
            if p.name != target:
                params.append(p)
                continue
            params.extend(
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.annotation
                )
                for f in flags
            )

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {f.name: kwargs.pop(f.name, f.default) for f in flags}
            return command(*args, **kwargs, **{target: build(values, flags)})

        new_sig = sig.replace(parameters=params)
        run.__signature__ = new_sig  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
        if sig.return_annotation is not sig.empty:
            run.__annotations__["return"] = sig.return_annotation
        return run  # type: ignore[return-value]

    return decorate
