"""A clause of the contract: one promise of one kind of component, numbered."""

from dataclasses import dataclass

from pynenc_contract.backend import Component


@dataclass(frozen=True)
class Clause:
    """One promise: its id, a short title, the full text, what it covers."""

    id: str
    title: str
    text: str
    #: Abstract methods of the kind's base classes, and guarantees, that it checks.
    covers: tuple[str, ...] = ()
    #: A capability the clause needs; clauses without one are the core contract.
    capability: str | None = None
    #: The component it is a promise of; None for a promise across every component.
    kind: Component | None = Component.ORCHESTRATOR

    @property
    def components(self) -> tuple[Component, ...]:
        """The kinds of component a backend must provide for the clause to run."""
        return tuple(Component) if self.kind is None else (self.kind,)
