"""BasePlugin: the one way samplers and compressors take their config."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from videopipe.errors import ConfigError
from videopipe.plugin import BasePlugin


@dataclass(frozen=True)
class _Cfg:
    size: int = 2
    mode: str = "a"


class _Thing(BasePlugin[_Cfg]):
    name = "thing"


def test_the_type_parameter_names_the_config_class() -> None:
    assert _Thing.config_class is _Cfg
    assert _Thing().config == _Cfg() and _Thing(size=5).config == _Cfg(size=5)
    assert _Thing(_Cfg(mode="b"), size=3).config == _Cfg(size=3, mode="b")  # options override
    assert repr(_Thing()) == "_Thing(_Cfg(size=2, mode='a'))"


def test_unknown_options_and_foreign_configs_are_refused_with_the_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"thing: unknown option\(s\) colour; valid options: mode, size"):
        _Thing(colour="red")
    with pytest.raises(ConfigError, match="thing: config must be a _Cfg, got dict"):
        _Thing({"size": 1})  # type: ignore[arg-type]


def test_samplers_and_compressors_share_it() -> None:
    from videopipe.compressors.pool import Pool, PoolConfig
    from videopipe.samplers.uniform import UniformConfig, UniformSampler

    assert Pool.config_class is PoolConfig and UniformSampler.config_class is UniformConfig
    assert isinstance(Pool(), BasePlugin) and isinstance(UniformSampler(), BasePlugin)
