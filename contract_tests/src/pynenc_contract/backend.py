"""The one place a backend author plugs in: a description of the backend under test.

The same description runs the contract (``--contract-backend module:attr``), the
cross-process scenarios and the benchmark (``--backend module:attr``): each builds
its apps with :meth:`BackendDescription.new_app`, and each reads the backend's known
failures from it.
"""

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from importlib import metadata
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pynenc.broker.base_broker import BaseBroker
from pynenc.client_data_store.base_client_data_store import BaseClientDataStore
from pynenc.orchestrator.base_orchestrator import BaseBlockingControl, BaseOrchestrator
from pynenc.state_backend.base_state_backend import BaseStateBackend
from pynenc.trigger.base_trigger import BaseTrigger

if TYPE_CHECKING:
    from pynenc import Pynenc

#: ``build_app(app_id, workdir)``: a new app on the backend. Apps built with the
#: same workdir must share the backend's storage (files, server database...).
AppBuilder = Callable[[str, Path], "Pynenc"]
#: pynenc settings layered over those an app was built with: top-level keys
#: (``runner_considered_dead_after_minutes``) and per-class sections
#: (``{"threadrunner": {"max_threads": 2}}``, merged key by key).
Settings = Mapping[str, Any]
#: Environment variable naming the backend description when no option does.
ENV_BACKEND = "PYNENC_CONTRACT_BACKEND"
#: Environment variable holding the URL of the redis-server a backend needs.
REDIS_URL_ENV = "PYNENC_CONTRACT_REDIS_URL"


class Capability(StrEnum):
    """Optional abilities; a clause needing one is skipped, naming it, when absent."""

    #: Several OS processes can share the backend (not an in-memory store).
    CROSS_PROCESS = "cross_process"


class Component(StrEnum):
    """A kind of pynenc component; the value is the app's attribute that holds it."""

    ORCHESTRATOR = "orchestrator"
    BROKER = "broker"
    STATE_BACKEND = "state_backend"
    TRIGGER = "trigger"
    CLIENT_DATA_STORE = "client_data_store"

    @property
    def base_classes(self) -> tuple[type, ...]:
        """pynenc's abstract classes that a component of this kind implements."""
        return _BASE_CLASSES[self]

    @property
    def setting(self) -> str:
        """The pynenc setting that selects the class (``broker_cls``)."""
        return f"{self.value}_cls"


_BASE_CLASSES: dict[Component, tuple[type, ...]] = {
    Component.ORCHESTRATOR: (BaseOrchestrator, BaseBlockingControl),
    Component.BROKER: (BaseBroker,),
    Component.STATE_BACKEND: (BaseStateBackend,),
    Component.TRIGGER: (BaseTrigger,),
    Component.CLIENT_DATA_STORE: (BaseClientDataStore,),
}


class Service(StrEnum):
    """A server the backend needs; whoever runs the harness starts it on loopback."""

    #: A redis-server; its URL is passed in ``$PYNENC_CONTRACT_REDIS_URL``.
    REDIS = "redis-server"

    @property
    def url_env(self) -> str:
        """The environment variable that gives the backend the server's URL."""
        return REDIS_URL_ENV


class BackendDescriptionError(Exception):
    """The backend description is missing or does not describe what it builds."""


@dataclass
class Check:
    """One invariant of a scenario case (see :attr:`BackendDescription.app_checks`) and
    whether it held."""

    name: str
    ok: bool
    detail: str = ""


#: A check of a backend's own on an app that the scenarios ran (its runners stopped);
#: ``None`` when it does not apply to that app.
AppCheck = Callable[["Pynenc"], Check | None]


@dataclass(frozen=True)
class KnownFailure:
    """A check that fails on this backend for a known defect.

    The contract runs such a test as a strict expected failure and the scenarios
    report the check as ``xfail``: when the defect is fixed, the run fails until the
    entry is removed.

    :param defect: a short name of the defect, e.g. ``"pynenc-3"`` or
        ``"pynenc-redis: claim outside MULTI"``.
    :param reason: what fails and why.
    :param reproduction: a command or test that shows it.
    :param strict: whether the check must fail. A race that shows in most runs but
        not all is ``strict=False``: it may pass without failing the run.
    """

    defect: str
    reason: str
    reproduction: str = ""
    strict: bool = True

    def describe(self) -> str:
        """One line for reports: the defect in brackets, then the reason."""
        return f"[{self.defect}] {self.reason}"


def suite_command(module: str, backend: str, test: str = "", directory: str = "") -> str:
    """A KnownFailure's reproduction: the command that runs suite ``module`` (only the
    tests ``-k test`` when given) on the backend spec ``backend``, from ``directory``
    when given."""
    selected = f" -k {test}" if test else ""
    command = (
        f"pytest --pyargs pynenc_contract.suite.{module}{selected} --contract-backend {backend}"
    )
    return f"cd {directory} && {command}" if directory else command


@dataclass(frozen=True)
class BackendDescription:
    """How the harness builds apps on a backend, and what it knows about the backend.

    :param name: shown in reports, e.g. ``"pynenc-sqlite (wal)"``.
    :param orchestrator_class: the class every built app must use; an app that
        ends up with another orchestrator fails the run instead of testing it.
    :param build_app: see :data:`AppBuilder`; runs in the test process.
    :param child_build_app: ``"module:function"`` with the signature of
        ``build_app``, imported in child processes. Not needed when the description
        is loaded by its spec (``module:attribute``, as every harness command does):
        child processes then load the description itself.
    :param capabilities: what the backend can do beyond the core contract.
    :param distributions: distributions (or import packages) whose versions the report
        shows.
    :param known_failures: check id -> :class:`KnownFailure`. Contract checks are
        test ids (``"test_lookups.py::test_filter_by_status"``); scenario checks are
        ``"<scenario>/<case>: <check>"`` and may use ``*`` wildcards
        (``"concurrency/*: never two RUNNING*"``).
    :param services: servers the backend needs (see :class:`Service`).
    :param components: the classes of the other components the backend provides, by kind
        (``{Component.BROKER: MyBroker}``); the contract runs the clauses of each kind
        named here and skips the others, naming them. Empty: an orchestrator alone.
    :param app_checks: checks that only this backend can make (pynenc-sqlite: its file
        is in the journal mode it was configured with); the scenarios run each on every
        case's app once its runners have stopped, beside their own checks.
    """

    name: str
    #: A BaseOrchestrator subclass; typed ``type`` so an incomplete one can be certified too.
    orchestrator_class: type
    build_app: AppBuilder
    child_build_app: str | None = None
    capabilities: frozenset[Capability] = frozenset()
    distributions: tuple[str, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)
    known_failures: Mapping[str, KnownFailure] = field(default_factory=dict)
    services: frozenset[Service] = frozenset()
    app_checks: tuple[AppCheck, ...] = ()
    components: Mapping[Component, type] = field(default_factory=dict)
    #: ``module:attribute`` this description was loaded from (set by :func:`load_backend`).
    spec: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.orchestrator_class, type) or not issubclass(
            self.orchestrator_class, BaseOrchestrator
        ):
            raise BackendDescriptionError(
                f"{self.name}: orchestrator_class must be a BaseOrchestrator subclass, "
                f"got {self.orchestrator_class!r}"
            )
        for kind, cls in self.components.items():
            if kind not in set(Component) or kind == Component.ORCHESTRATOR:
                others = ", ".join(
                    f"Component.{k.name}" for k in Component if k.value != "orchestrator"
                )
                raise BackendDescriptionError(
                    f"{self.name}: components has key {kind!r}; its keys are {others} "
                    "(the orchestrator is orchestrator_class)"
                )
            base = Component(kind).base_classes[0]
            if not isinstance(cls, type) or not issubclass(cls, base):
                raise BackendDescriptionError(
                    f"{self.name}: components[Component.{Component(kind).name}] must be a "
                    f"{base.__name__} subclass, got {cls!r}{_right_kind(cls)}"
                )

    def component_class(self, kind: Component) -> type | None:
        """The class of the backend's ``kind`` of component; None when it names none."""
        if kind == Component.ORCHESTRATOR:
            return self.orchestrator_class
        return self.components.get(kind)

    def provided(self) -> tuple[Component, ...]:
        """The kinds of component this description names, the orchestrator first."""
        return tuple(kind for kind in Component if self.component_class(kind) is not None)

    def new_app(
        self,
        app_id: str,
        workdir: Path,
        settings: Settings | None = None,
        kinds: Sequence["Component"] = (),
    ) -> "Pynenc":
        """Build an app, layer ``settings`` over its configuration, and check that its
        components of ``kinds`` (default: the orchestrator) are the declared classes."""
        app = self.build_app(app_id, workdir)
        if settings:
            layer_settings(app, settings)
        for kind in kinds or (Component.ORCHESTRATOR,):
            checked_component(self, app, kind)
        return app

    def child_app_builder(self) -> tuple[str, str]:
        """How a child process builds apps: ``("backend", spec)`` loads this description,
        ``("function", child_build_app)`` imports the builder function."""
        if self.spec:
            return ("backend", self.spec)
        if self.child_build_app:
            return ("function", self.child_build_app)
        raise BackendDescriptionError(
            f"{self.name}: child processes cannot build its apps; load the description "
            "with load_backend('module:attribute') or set child_build_app"
        )

    def known_failure(self, check_id: str) -> KnownFailure | None:
        """The known failure of a check, if this backend has one (see :func:`find_known`)."""
        return find_known(self.known_failures, check_id)

    def versions(self) -> dict[str, str]:
        """Versions of pynenc and the backend's distributions (see :func:`version_of`)."""
        return {
            name: version_of(name)
            for name in ("pynenc", "pynenc-orchestrator-contract", *self.distributions)
        }


def _right_kind(cls: object) -> str:
    """The key a component class belongs under, as the end of an error message."""
    for kind in Component:
        base = kind.base_classes[0]
        if isinstance(cls, type) and issubclass(cls, base):
            where = _declared(kind)
            return f"; {cls.__name__} is a {base.__name__}: give it as {where}"
    return ""


def version_of(name: str) -> str:
    """The version of a distribution, or of the distribution that provides the import
    package ``name``; else where the package was found without one."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
    providers = metadata.packages_distributions().get(name, [])
    for distribution in providers:
        with suppress(metadata.PackageNotFoundError):
            return f"{metadata.version(distribution)} ({distribution})"
    module = sys.modules.get(name)
    location = getattr(module, "__file__", None)
    if location is None and (spec := PathFinder.find_spec(name, [os.getcwd()])) is not None:
        location = spec.origin
    if location:
        return f"source at {Path(location).parent}, not installed"
    return "not installed"


def key_matches(key: str, check_id: str) -> bool:
    """Whether a ``known_failures`` key names ``check_id``: ``*`` and ``?`` are wildcards,
    everything else is literal (brackets too: test ids carry ``[params]``)."""
    literal_brackets = "".join({"[": "[[]", "]": "[]]"}.get(char, char) for char in key)
    return fnmatchcase(check_id, literal_brackets)


def find_known(known_failures: Mapping[str, KnownFailure], check_id: str) -> KnownFailure | None:
    """The entry for a check: an exact key, else the first key that matches it."""
    if (exact := known_failures.get(check_id)) is not None:
        return exact
    return next(
        (known for key, known in known_failures.items() if key_matches(key, check_id)), None
    )


#: The name of contract 0.1; the same type.
ContractBackend = BackendDescription


def layer_settings(app: "Pynenc", settings: Settings) -> None:
    """Layer pynenc settings over those ``app`` was built with (sections merge key by key).

    pynenc builds its components lazily from the configuration; they are dropped
    here so that the next access builds them with the layered settings.
    """
    merged: dict[str, Any] = dict(app.config_values or {})
    for key, value in settings.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = {**current, **value}
        else:
            merged[key] = value
    app.config_values = merged
    app._reset_cached_components()


def checked_app(backend: BackendDescription, app: "Pynenc") -> "Pynenc":
    """Refuse an app whose orchestrator is not the backend's declared class."""
    checked_component(backend, app, Component.ORCHESTRATOR)
    return app


def checked_component(backend: BackendDescription, app: "Pynenc", kind: Component) -> Any:
    """The app's ``kind`` of component, refused unless it is the class the backend
    declares for that kind."""
    wanted = backend.component_class(kind)
    if wanted is None:
        raise BackendDescriptionError(f"backend {backend.name!r} names no {kind} class")
    try:
        component = getattr(app, kind.value)
    except ValueError as error:
        if "Unknown subclass" not in str(error):
            raise
        raise BackendDescriptionError(
            f"backend {backend.name!r} built an app with {error}; {kind.setting} must be "
            f"the class name of {_declared(kind)}, {wanted.__name__!r}, set by build_app"
        ) from None
    if type(component) is not wanted:
        raise BackendDescriptionError(
            f"backend {backend.name!r} built an app whose {kind} is "
            f"{type(component).__module__}.{type(component).__qualname__}, not "
            f"{wanted.__module__}.{wanted.__qualname__}; check the {kind.setting} set by "
            "build_app (pynenc falls back to its own classes when the name is wrong or "
            "ambiguous)"
        )
    return component


def _declared(kind: Component) -> str:
    """Where a description declares the class of ``kind``."""
    if kind == Component.ORCHESTRATOR:
        return "orchestrator_class"
    return f"components[Component.{kind.name}]"


class _CurrentDirectoryFinder(MetaPathFinder):
    """Finds top-level modules in one directory, after every other finder (installed
    packages win), as ``python -m`` finds an author's modules in the current directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        del target
        return None if path is not None else PathFinder.find_spec(fullname, [self.directory])


def import_module(name: str) -> ModuleType:
    """Import ``name``, installed or in the current directory (as ``python -m`` finds it),
    whichever command runs: ``pytest``, ``pynenc-scenarios``, ``pynenc-bench``."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        top, directory = name.partition(".")[0], os.getcwd()
        if (
            error.name == top
            and directory not in searched_directories()
            and PathFinder.find_spec(top, [directory]) is not None
        ):
            search_directories([directory])
            return import_module(name)
        if error.name == top:
            raise ModuleNotFoundError(
                f"No module named {top!r} in the current directory ({directory}) or "
                "among the installed packages",
                name=top,
            ) from None
        package = sys.modules.get(top)
        if package is not None and package.__file__ is None:
            raise ModuleNotFoundError(
                f"No module named {error.name!r}: {_found_as_directory(package)}",
                name=error.name,
            ) from None
        raise


def _found_as_directory(package: ModuleType) -> str:
    """Why a namespace package is not the author's package, and the fix."""
    return (
        f"{package.__name__!r} was found as a directory without __init__.py "
        f"({', '.join(package.__path__)}), not as your package; run from the directory "
        "that holds the package, or install it"
    )


def searched_directories() -> list[str]:
    """The directories whose top-level modules this process finds (see
    :func:`import_module`); a spawned child searches them too with
    :func:`search_directories` before it unpickles anything of them."""
    return [f.directory for f in sys.meta_path if isinstance(f, _CurrentDirectoryFinder)]


def search_directories(directories: Sequence[str]) -> None:
    """Find top-level modules in ``directories`` too, after every other finder."""
    for directory in directories:
        if directory not in searched_directories():
            sys.meta_path.append(_CurrentDirectoryFinder(directory))


def load_object(spec: str) -> object:
    """Import ``"module:attribute"`` (see :func:`import_module`)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise BackendDescriptionError(f"{spec!r} is not of the form 'module:attribute'")
    try:
        module = import_module(module_name)
    except ImportError as error:
        raise BackendDescriptionError(f"cannot load {spec!r}: {error}") from error
    if not hasattr(module, attribute) and module.__file__ is None:
        raise BackendDescriptionError(f"cannot load {spec!r}: {_found_as_directory(module)}")
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        raise BackendDescriptionError(f"cannot load {spec!r}: {error}") from error


def load_backend(spec: str) -> BackendDescription:
    """Load a :class:`BackendDescription` (or a zero-argument factory of one)."""
    loaded = load_object(spec)
    backend = loaded
    if callable(loaded) and not isinstance(loaded, BackendDescription):
        required = [
            name
            for name, parameter in inspect.signature(loaded).parameters.items()
            if parameter.default is parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        if required:
            raise BackendDescriptionError(
                f"{spec!r} is a function of ({', '.join(required)}), not a backend "
                "description: name the attribute that holds the BackendDescription "
                "(e.g. mypkg.contract:BACKEND) or a factory that takes no arguments"
            )
        backend = loaded()
    if not isinstance(backend, BackendDescription):
        raise BackendDescriptionError(
            f"{spec!r} is {type(backend).__name__}, not a pynenc_contract.BackendDescription"
        )
    return replace(backend, spec=spec)


def build_in_child(builder: tuple[str, str], app_id: str, workdir: Path) -> "Pynenc":
    """Build an app in a child process from :meth:`BackendDescription.child_app_builder`
    (the caller checks the components it uses)."""
    kind, spec = builder
    if kind == "backend":
        return load_backend(spec).build_app(app_id, workdir)
    build: AppBuilder = load_object(spec)  # type: ignore[assignment]
    return build(app_id, workdir)
