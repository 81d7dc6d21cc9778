"""Adapters to the outside world (WeChat, supply providers) behind small contracts.

Nothing in here imports the Flask app: adapters take their settings and collaborators
as arguments, so the domain can swap them and the sandboxes can stand in for them.
"""
