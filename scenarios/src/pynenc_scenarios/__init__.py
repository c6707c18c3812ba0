"""The scenario harness: real pynenc runner processes on any backend description.

One module per job: ``processes`` (start, stop and clean up processes),
``appenv`` (a work dir with the generated app, its runners and clients),
``records`` (what the orchestrator, the state backend and the probes recorded),
``checks`` (invariants), ``outcome`` (case outcomes and summaries), ``scenario``
(what a scenario declares) and ``cli`` (the command line).
"""
