"""pynenc's atomic-service claim races, which its ``all_tests`` module leaves out."""

from pynenc_tests.integration.orchestrator.test_atomic_service_claim_concurrency import *  # noqa: F403
