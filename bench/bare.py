"""The bare endpoint read benchmarks compare against: Flask returning ``{}``, nothing else
(``gunicorn bench.bare:app``, with the same settings as the app's)."""
from flask import Flask

app = Flask("bare")
app.get("/bare")(lambda: {})
