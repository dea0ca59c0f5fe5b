"""The app as gunicorn serves it for bench_national.py, plus one minimal endpoint: the same
server, workers and WSGI stack answering without templates or SQL, which is the stack's own
limit to compare the pages with. Not part of the product: only the bench loads this module.

    DATABASE_URL=... gunicorn -c gunicorn.conf.py 'bench.national_app:app'
"""

from __future__ import annotations

from app import create_app

# Rate limits are for people; the bench's clients all come from 127.0.0.1.
app = create_app({"RATELIMIT_ENABLED": False})


@app.get("/_bench/ping")
def ping():
    return "ok"
