"""The one place a backend author plugs in: a description of the backend under test."""

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from pynenc.orchestrator.base_orchestrator import BaseOrchestrator

if TYPE_CHECKING:
    from pynenc import Pynenc

#: ``build_app(app_id, workdir)``: a new app on the backend. Apps built with the
#: same workdir must share the backend's storage (files, server database...).
AppBuilder = Callable[[str, Path], "Pynenc"]


class Capability(StrEnum):
    """Optional abilities; a clause needing one is skipped, naming it, when absent."""

    #: Several OS processes can share the backend (not an in-memory store).
    CROSS_PROCESS = "cross_process"


class BackendDescriptionError(Exception):
    """The backend description is missing or does not describe what it builds."""


@dataclass(frozen=True)
class ContractBackend:
    """How the contract suite builds apps on a backend.

    :param name: shown in reports, e.g. ``"pynenc-sqlite (wal)"``.
    :param orchestrator_class: the class every built app must use; an app that
        ends up with another orchestrator fails the run instead of testing it.
    :param build_app: see :data:`AppBuilder`; runs in the test process.
    :param child_build_app: ``"module:function"`` with the same signature,
        imported in child processes for cross-process clauses.
    :param capabilities: what the backend can do beyond the core contract.
    :param distributions: package names whose versions the report shows.
    """

    name: str
    #: A BaseOrchestrator subclass; typed ``type`` so an incomplete one can be certified too.
    orchestrator_class: type
    build_app: AppBuilder
    child_build_app: str | None = None
    capabilities: frozenset[Capability] = frozenset()
    distributions: tuple[str, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.orchestrator_class, type) or not issubclass(
            self.orchestrator_class, BaseOrchestrator
        ):
            raise BackendDescriptionError(
                f"{self.name}: orchestrator_class must be a BaseOrchestrator subclass, "
                f"got {self.orchestrator_class!r}"
            )
        if Capability.CROSS_PROCESS in self.capabilities and not self.child_build_app:
            raise BackendDescriptionError(
                f"{self.name}: the cross_process capability needs child_build_app "
                "('module:function' importable in a child process)"
            )

    def new_app(self, app_id: str, workdir: Path) -> "Pynenc":
        """Build an app and check that it really uses ``orchestrator_class``."""
        return checked_app(self, self.build_app(app_id, workdir))

    def versions(self) -> dict[str, str]:
        """Installed versions of pynenc and the backend's distributions."""
        found = {}
        for name in ("pynenc", "pynenc-orchestrator-contract", *self.distributions):
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "not installed"
        return found


def checked_app(backend: ContractBackend, app: "Pynenc") -> "Pynenc":
    """Refuse an app whose orchestrator is not the backend's declared class."""
    orchestrator = app.orchestrator
    if type(orchestrator) is not backend.orchestrator_class:
        raise BackendDescriptionError(
            f"backend {backend.name!r} built an app whose orchestrator is "
            f"{type(orchestrator).__module__}.{type(orchestrator).__qualname__}, not "
            f"{backend.orchestrator_class.__module__}.{backend.orchestrator_class.__qualname__}"
            "; check the orchestrator_cls set by build_app (pynenc falls back to its own "
            "classes when the name is wrong or ambiguous)"
        )
    return app


def load_object(spec: str) -> object:
    """Import ``"module:attribute"``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise BackendDescriptionError(f"{spec!r} is not of the form 'module:attribute'")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise BackendDescriptionError(f"cannot load {spec!r}: {error}") from error


def load_backend(spec: str) -> ContractBackend:
    """Load a :class:`ContractBackend` (or a zero-argument factory of one)."""
    loaded = load_object(spec)
    backend = loaded() if callable(loaded) and not isinstance(loaded, ContractBackend) else loaded
    if not isinstance(backend, ContractBackend):
        raise BackendDescriptionError(
            f"{spec!r} is {type(backend).__name__}, not a pynenc_contract.ContractBackend"
        )
    return backend
