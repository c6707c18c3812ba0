"""The broker's clauses: BaseBroker."""

from pynenc_contract.backend import Component
from pynenc_contract.clauses.clause import Clause

CLAUSES = (
    Clause(
        "BROKER-1",
        "Complete interface",
        "Every abstract method of BaseBroker is implemented, the broker can be "
        "instantiated, and each override accepts every parameter of the base method with "
        "the same name and kind.",
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-2",
        "Highest priority first, then oldest; None when empty",
        "retrieve_invocation takes the message of the highest priority first and, among "
        "equal priorities, the one routed first (a batch of route_invocations in its "
        "order); it returns None when the queue is empty, the default queue included.",
        ("_route_invocation", "_route_invocations", "retrieve_invocation", "broker-order"),
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-3",
        "Queues are kept apart and counted",
        "A message is taken only from the queue it was routed to; retrieve_invocation() "
        "takes from the first configured queue (default). count_invocations counts the "
        "messages waiting in the given queues, every configured queue when none are given, "
        "and falls by one per message taken.",
        ("retrieve_invocation", "count_invocations"),
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-4",
        "Each message is taken once among threads",
        "Threads sharing one broker and taking from one queue at once each take distinct "
        "messages, and together take every message routed.",
        ("retrieve_invocation", "broker-take-once"),
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-5",
        "Each message is taken once among processes",
        "The BROKER-4 race between separate OS processes, each with its own app on the "
        "shared storage.",
        ("retrieve_invocation", "broker-take-once"),
        capability="cross_process",
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-6",
        "queue_timeout_sec 0 drains a queue without blocking",
        "With the broker setting queue_timeout_sec 0, repeated retrieve_invocation calls "
        "return every waiting message once each, then None at once.",
        ("retrieve_invocation", "broker-queue-timeout"),
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-7",
        "Apps never take each other's messages",
        "Two apps share one storage and route the same invocation ids to the same queue: "
        "each app takes and counts only the messages it routed.",
        ("retrieve_invocation", "count_invocations", "broker-app-isolation"),
        kind=Component.BROKER,
    ),
    Clause(
        "BROKER-8",
        "purge empties this app's queues only",
        "After purge the app's every queue is empty (count 0, retrieve None) and routing "
        "works again; a second app on the same storage keeps its messages.",
        ("purge", "broker-app-isolation"),
        kind=Component.BROKER,
    ),
)

#: Guarantees pynenc's docstrings and settings state for brokers.
GUARANTEES = {
    "broker-order": "BaseBroker: priority-based queuing (route_invocation's routing "
    "priority); retrieve_invocation: None if the queue is empty",
    "broker-take-once": "SQLiteBroker.retrieve_invocation: no two processes can retrieve "
    "the same invocation",
    "broker-queue-timeout": "ConfigBroker.queue_timeout_sec: maximum time in seconds to "
    "block waiting for messages",
    "broker-app-isolation": "purge and every look-up: data of the current app_id only",
}
