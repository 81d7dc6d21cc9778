"""Ground data: units (a tree with region codes), users with roles, vehicles and drivers.

Their administration (``/admin/units`` …) lives in ``app.admin``, above the security
helpers that read these models.
"""
