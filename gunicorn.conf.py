"""Gunicorn settings for `make serve` (production): `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

Every value can be overridden from the environment (below) or on the command line.
Nothing is kept in a worker between requests (sessions are signed cookies, mail is in
the database's outbox), so any number of workers, on any number of machines, serve alike.
"""

import multiprocessing
import os

#: Behind a reverse proxy on the same machine by default (README, Production).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Worker processes: rendering and sealing PDFs is CPU work that holds Python's GIL, so
# one process per CPU and one more; the threads in each serve the many short requests
# (pages, htmx fragments) that mostly wait on the database.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A worker silent this long is restarted. (With threads, a long request, such as a 200 MB
# register import or a batch of 200 signed PDFs, does not silence it; the reverse proxy's
# read timeout bounds a request.)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = 30
keepalive = 5
# WeasyPrint and pyHanko grow a worker's memory a little per document: recycle workers now
# and then (the jitter keeps them from restarting all at once).
max_requests = 1000
max_requests_jitter = 100
# The heartbeat file in memory, not on a (possibly slow or full) disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# The app is made once, in the master, before the workers fork: a configuration production
# mode refuses (dugnad.security) then stops gunicorn with its message, instead of workers
# failing over and over; and the workers share its memory. It opens no database connection.
preload_app = True
# No gunicornc control socket (it would sit in $HOME, shared by every gunicorn there).
control_socket_disable = True

# Logs to stdout/stderr, for systemd's journal or the container's log.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Which peers may set X-Forwarded-Proto (the scheme gunicorn reports): the reverse proxy's
# address, comma-separated. The app trusts X-Forwarded-For/-Host/-Port as well when
# TRUSTED_PROXIES is set (dugnad.security).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
