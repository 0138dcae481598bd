"""gunicorn settings of the web role: `gunicorn -c infra/gunicorn.conf.py config.wsgi:application`
(the image's CMD; run from the repository root, /app in the image).

Sync workers: each process serves one request at a time and keeps one persistent database
connection (DB_CONN_MAX_AGE, 60 s by default). nginx / the ingress controller in front buffers
request and response bodies, so a phone on a slow network does not hold a worker.

Read from the environment: WEB_CONCURRENCY, FORWARDED_ALLOW_IPS, PORT, LOG_LEVEL. Anything else can
be overridden without a rebuild through gunicorn's own GUNICORN_CMD_ARGS (e.g. "--timeout 60"),
which takes precedence over this file.
"""
import os

# Containers listen on 8000; PORT exists to run a second server next to another one.
bind = [f"0.0.0.0:{os.environ.get('PORT') or 8000}"]

# Worker processes = requests served at once = database connections held by this server.
# Fallback: 2 per CPU this process may use. In a container that is every CPU of the host (cgroup
# CPU limits are not seen), so the image sets WEB_CONCURRENCY=2 and compose (.env) and Kubernetes
# (configmap.yaml) set it explicitly.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * len(os.sched_getaffinity(0)))
worker_class = "sync"

# A worker busy with one request for longer than this is killed and replaced ("WORKER TIMEOUT" in
# the log); gunicorn answers 500. Work that takes longer belongs in a Celery task.
timeout = 30

# On SIGTERM (docker stop, pod deletion) workers stop accepting and get this long to finish the
# request in hand. compose's stop_grace_period and Kubernetes' terminationGracePeriodSeconds
# (which also counts the preStop sleep) must be longer.
graceful_timeout = 25

# Sync workers ignore it (they close the connection after every response, so nginx opens one per
# request); it only takes effect with a threaded or async worker class.
keepalive = 5

# Replace each worker after 5000-5500 requests (jitter: not all at once), so a slow memory leak
# cannot grow without bound. A fresh worker imports Django again and opens a new connection.
max_requests = 5000
max_requests_jitter = 500

# Peers allowed to set X-Forwarded-Proto: only nginx / the ingress controller reaches this port,
# hence "*" in .env.example and configmap.yaml. Without it Django sees http behind TLS and rejects
# HTTPS form posts (CSRF origin check).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Only the header the proxies overwrite counts. gunicorn's default also trusts X-Forwarded-Ssl and
# X-Forwarded-Protocol, which nginx passes through from the client unchanged.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# No access log: nginx / the ingress controller writes one line per request (with the request id).
# gunicorn's own lines (start, stop, WORKER TIMEOUT) go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "mashang-web"

# Heartbeat files on tmpfs: on a disk-backed /tmp a slow disk can stall workers into timeouts.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# No control socket (gunicorn >= 25.1): nothing uses gunicornc, and $HOME (/app) is read-only.
control_socket_disable = True
