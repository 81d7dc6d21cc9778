# Reuse the dispatch fixtures (frozen clock, trips, driving a trip over the API).
from tests.dispatch.conftest import (drive, fleet, hook_calls, in_db, make_trip, now,  # noqa: F401
                                     travel)
from tests.settlements.conftest import drc_finance  # noqa: F401
