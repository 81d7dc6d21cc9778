from flask import current_app

from app import db, ratelimit, supply
from app.accounts.models import Role
from app.api import blueprint
from app.quotes import service
from app.quotes.schemas import QuotesSchema
from app.security import current_user, roles_required
from app.web import defer_write_lock

blp = blueprint("quotes", "/trips", "Quotes: offers from every supply channel for a trip")


@blp.route("/<int:trip_id>/quotes", methods=["POST"])
@defer_write_lock
@roles_required(Role.TRAVELER)
@ratelimit.per_user("RATELIMIT_QUOTES")
@blp.response(200, QuotesSchema)
def request_quotes(trip_id):
    """Ask every enabled provider at once; offers that arrived by the deadline, ranked,
    with each provider's status. A new round each time until the trip is submitted."""
    # The service ends its read transaction and begins the write one itself: it needs the
    # request's Session, not the scoped proxy.
    return service.request_quotes(
        db.session(), actor=current_user(), trip_id=trip_id,
        providers=supply.quoting, route=supply.route_estimator(),
        deadline=float(current_app.config["QUOTE_DEADLINE_SECONDS"]))


@blp.route("/<int:trip_id>/quotes", methods=["GET"])
@blp.response(200, QuotesSchema)
def latest_quotes(trip_id):
    """The trip's latest quote round, as it was answered."""
    return service.latest_quotes(db.session, actor=current_user(), trip_id=trip_id)
