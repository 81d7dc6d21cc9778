"""Tariffs as data and the pure charge engine (SPEC §5.1–5.4).

``data``: the published rates as versioned data and their validation; ``charge``: the
engine's input (a chargeable run) and output (a charge of lines); ``fleet``: the pooled
fleet's paid use; ``rental``: the framework agreement's ceiling; ``ridehail``: bill flags.
"""
from app.billing.tariff.charge import Charge, ChargeableRun, ChargeLine
from app.billing.tariff.data import (DEFAULT_EFFECTIVE_FROM, DEFAULT_FLEET_TARIFF,
                                     DEFAULT_RENTAL_AGREEMENT, VEHICLE_CLASSES, FleetClassRates,
                                     FleetTariff, KmBand, RentalAgreement, RentalClassRates,
                                     TariffError, TimeBlock, version_in_force)
from app.billing.tariff.fleet import fleet_charge, meal_days, waiting_km
from app.billing.tariff.rental import (FLAG_OVER_CEILING, market_reference, over_ceiling,
                                       rental_ceiling, rental_lead_time_ok, rental_quote, savings)
from app.billing.tariff.ridehail import FLAG_OVER_ESTIMATE, ridehail_flags

__all__ = [
    "Charge", "ChargeLine", "ChargeableRun",
    "DEFAULT_EFFECTIVE_FROM", "DEFAULT_FLEET_TARIFF", "DEFAULT_RENTAL_AGREEMENT",
    "VEHICLE_CLASSES", "FleetClassRates", "FleetTariff", "KmBand", "RentalAgreement",
    "RentalClassRates", "TariffError", "TimeBlock", "version_in_force",
    "fleet_charge", "meal_days", "waiting_km",
    "FLAG_OVER_CEILING", "market_reference", "over_ceiling", "rental_ceiling",
    "rental_lead_time_ok", "rental_quote", "savings",
    "FLAG_OVER_ESTIMATE", "ridehail_flags",
]
