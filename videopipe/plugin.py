"""The part every configurable plugin shares (samplers and compressors): a frozen config
dataclass named by one class attribute, ``config_class``, built from keyword options, and the
same refusal of an option the config does not have."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from videopipe.errors import ConfigError

__all__ = ["BasePlugin", "ConfigT", "make_config"]

ConfigT = TypeVar("ConfigT")


def make_config(
    owner: str, config_class: type[ConfigT], config: ConfigT | None, options: dict[str, Any]
) -> ConfigT:
    """``config`` (default: ``config_class()``) with ``options`` replacing its fields; a config of
    another class or an option that is not a field raises ConfigError naming the valid ones."""
    if config is not None and not isinstance(config, config_class):
        raise ConfigError(f"{owner}: config must be a {config_class.__name__}, got {type(config).__name__}")
    valid = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ConfigError(
            f"{owner}: unknown option(s) {', '.join(unknown)}; valid options: {', '.join(sorted(valid)) or '(none)'}"
        )
    if config is None:
        return config_class(**options)
    return dataclasses.replace(config, **options)  # type: ignore[type-var]


class BasePlugin(Generic[ConfigT]):
    """A plugin with a ``name`` and a config of class ``config_class`` (a dataclass): made from a
    config object, keyword options, or both (options override the object's fields).

    A subclass names its config once, as the type parameter (``class Pool(BaseCompressor[PoolConfig])``
    sets ``config_class = PoolConfig``), or sets ``config_class`` itself."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__:
            return
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin, args = get_origin(base), get_args(base)
            if (
                isinstance(origin, type)
                and issubclass(origin, BasePlugin)
                and args
                and isinstance(args[0], type)
            ):
                cls.config_class = args[0]

    def __init__(self, config: ConfigT | None = None, /, **options: Any) -> None:
        self.config: ConfigT = make_config(self.name, self.config_class, config, options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"
