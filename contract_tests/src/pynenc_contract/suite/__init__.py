"""The contract tests; run with ``pytest --pyargs pynenc_contract.suite --contract-backend ...``."""
