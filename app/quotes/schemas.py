from marshmallow import Schema, fields

from app.api import AwareDateTime, MoneyField
from app.billing.schemas import FeeLineSchema


class OfferSchema(Schema):
    id = fields.Integer()
    channel = fields.Function(lambda o: o.channel.value)
    provider = fields.String()
    product = fields.String()
    vehicle_class = fields.Function(lambda o: o.vehicle_class.value)
    seats = fields.Integer()
    nev = fields.Boolean()
    price = MoneyField()
    breakdown = fields.List(fields.Nested(FeeLineSchema))
    available = fields.Boolean()
    expires_at = AwareDateTime()
    compliant = fields.Boolean()
    reasons = fields.List(fields.String())
    recommended = fields.Boolean()
    rank = fields.Integer()
    quote_round = fields.Integer()


class ProviderStatusSchema(Schema):
    name = fields.String()
    channel = fields.String()
    status = fields.String(metadata={"enum": ["ok", "timeout", "error", "not_applicable"]})
    latency_ms = fields.Integer()
    message = fields.String()


class QuotesSchema(Schema):
    trip_id = fields.Function(lambda r: r.trip.id)
    state = fields.Function(lambda r: r.trip.state.value)
    round = fields.Function(lambda r: r.round.round)
    est_distance_km = fields.Function(lambda r: str(r.round.est_distance_km))
    est_duration_min = fields.Function(lambda r: r.round.est_duration_min)
    offers = fields.List(fields.Nested(OfferSchema))
    providers = fields.List(fields.Nested(ProviderStatusSchema))
