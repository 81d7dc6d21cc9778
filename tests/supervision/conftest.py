"""Supervision fixtures: the dispatch harness (approved fleet trips driven over the API)."""
from tests.dispatch.conftest import (drive, fleet, in_db, make_trip, now, past_run,  # noqa: F401
                                     travel)
