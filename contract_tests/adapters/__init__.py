"""Contract backend descriptions, written with the public ``pynenc_contract`` API."""
