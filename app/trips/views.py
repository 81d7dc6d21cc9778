from __future__ import annotations

from flask.views import MethodView
from marshmallow import RAISE

from app import db
from app.accounts.models import Role
from app.api import blueprint, page_schema, paginate
from app.security import current_user, roles_required
from app.trips import lifecycle, service
from app.trips.models import Trip
from app.trips.schemas import TripCreateSchema, TripListArgs, TripSchema

blp = blueprint("trips", "/trips", "Trip requests and their history")


@blp.route("")
class Trips(MethodView):
    @blp.arguments(TripListArgs, location="query", unknown=RAISE)
    @blp.response(200, page_schema(TripSchema))
    def get(self, args):
        """Trips the caller may see: their own, plus their unit subtree for overseeing roles."""
        user = current_user()
        page = service.visible_page(db.session, user, service.list_conditions(args, user),
                                    limit=args["limit"], cursor=args["cursor"])
        service.attach_histories(db.session, page["items"])
        lifecycle.annotate(db.session, page["items"], user)
        return page

    @roles_required(Role.TRAVELER)
    @blp.arguments(TripCreateSchema)
    @blp.response(201, TripSchema)
    def post(self, data):
        """Create a draft trip; quotes come next."""
        return service.create_trip(db.session, actor=current_user(), data=data,
                                   bounds=service.city_bounds())


@blp.route("/<int:trip_id>")
@blp.response(200, TripSchema)
def get_trip(trip_id):
    return service.get_visible(db.session, current_user(), trip_id)
