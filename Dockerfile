# PolyFlup in a container: `docker compose up -d` (see docker-compose.yml), or
#   docker build -t polyflup .
#   docker run -d --name polyflup -v polyflup-data:/data -v polyflup-logs:/logs polyflup
# The default command trades the embedded simulator; real money needs `run --live` given
# explicitly (and POLYMARKET_PRIVATE_KEY in the environment), never a setting alone.
FROM python:3.11-slim

# tini as PID 1: forwards SIGTERM to the bot (which then stops cleanly, cancelling or
# keeping open orders per OPEN_ORDERS_ON_EXIT) and reaps children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 polyflup \
    && useradd --system --uid 10001 --gid polyflup --create-home \
        --home-dir /home/polyflup --shell /usr/sbin/nologin polyflup \
    && mkdir -p /data /logs \
    && chown polyflup:polyflup /data /logs

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POLYFLUP_DB=/data/polyflup.db \
    POLYFLUP_LOG_DIR=/logs

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install --upgrade pip setuptools wheel \
    && pip install -r requirements.txt

# Editable, as `make install` does: the SQL migrations are found next to src/ (in
# /app/migrations), which a regular install into site-packages would leave behind.
COPY setup.cfg setup.py README.md ./
COPY migrations ./migrations
COPY src ./src
RUN pip install --no-deps --no-build-isolation -e . \
    && polyflup --version

USER polyflup
VOLUME ["/data", "/logs"]

# Healthy = valid configuration, a migrated database and a live `polyflup run` holding its
# lock. The full `polyflup doctor` also needs the venue, Binance and a wallet key, so it
# would report a sim container unhealthy forever; run it by hand before going live:
#   docker compose exec polyflup polyflup doctor
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["polyflup", "doctor", "--local"]

ENTRYPOINT ["tini", "--", "polyflup"]
# Simulator by default. Live: `docker run … polyflup run --live --profile aggressive`, or
# `command:` in docker-compose.yml.
CMD ["run", "--profile", "aggressive"]
