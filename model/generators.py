"""The generator registry: `load_generator(spec)` turns a name into a `Generator`.

A spec is ``name`` or ``name:argument`` (for example ``random-sample:data/corpus``). The
timeline code, the server and the evaluation all get their generators here, so adding a model
means adding one entry to `_FACTORIES`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from v2a.contracts import Generator

log = logging.getLogger(__name__)

DEFAULT_CORPUS = "data/corpus"


def _silence(arg: str) -> Generator:
    from model.baselines import SilenceGenerator

    return SilenceGenerator()


def _motion_bursts(arg: str) -> Generator:
    from model.baselines import MotionBurstsGenerator

    return MotionBurstsGenerator()


def _random_sample(arg: str) -> Generator:
    from model.baselines import RandomSampleGenerator

    return RandomSampleGenerator(arg or DEFAULT_CORPUS)


def _onset_transfer(arg: str) -> Generator:
    from model.baselines import OnsetTransferGenerator

    return OnsetTransferGenerator(arg or DEFAULT_CORPUS)


def _ceiling(arg: str) -> Generator:
    from model.baselines import CeilingGenerator

    return CeilingGenerator(arg)


def _v2a(arg: str) -> Generator:
    """The trained flow-matching model; the argument is a checkpoint path (default: shipped)."""
    from model.v2a_generator import V2AGenerator

    return V2AGenerator(arg or None)


def _default(arg: str) -> Generator:
    from model.v2a_generator import DEFAULT_CHECKPOINT

    if DEFAULT_CHECKPOINT.is_file():
        return _v2a(arg)
    # Without the shipped checkpoint the default is a baseline, and it says so.
    log.info("generator 'default' is the motion-bursts BASELINE (no checkpoint at %s)", DEFAULT_CHECKPOINT)
    return _motion_bursts(arg)


_FACTORIES: dict[str, Callable[[str], Generator]] = {
    "silence": _silence,
    "motion-bursts": _motion_bursts,
    "random-sample": _random_sample,
    "onset-transfer": _onset_transfer,
    "ceiling": _ceiling,
    "v2a": _v2a,
    "default": _default,
}


def available_generators() -> list[str]:
    return sorted(_FACTORIES)


def check_generator_spec(spec: str) -> None:
    """ValueError naming the choices when the spec names no generator; loads nothing."""
    _factory(spec)


def load_generator(spec: str) -> Generator:
    """Build the generator a spec names; ValueError naming the choices for an unknown one."""
    factory, arg = _factory(spec)
    return factory(arg)


def _factory(spec: str) -> tuple[Callable[[str], Generator], str]:
    name, _, arg = (spec or "default").partition(":")
    factory = _FACTORIES.get(name.strip())
    if factory is None:
        raise ValueError(
            f"unknown generator {spec!r}; choose one of: {', '.join(available_generators())}"
        )
    return factory, arg.strip()
