"""Money is Decimal, in yuan, rounded to the cent half up: one rule for the columns, the
schemas, the engine and the providers. The rule lives in ``providers.money`` (providers may
not import the app); the app takes it from here.
"""
from providers.money import CENT, money, round_money

__all__ = ["CENT", "money", "round_money"]
