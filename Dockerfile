# The lead-sla image: the worker (`lead-sla worker`, the default) and the read-model projector
# (`lead-sla project --db postgresql://...`), one image, chosen by the command.
#
#   docker build -t lead-sla .
#   docker run --rm -e LEADSLA_BOOTSTRAP_SERVERS=kafka://broker:9092 \
#       -e LEADSLA_POLICY=/etc/lead-sla/policy.toml -v $PWD/examples/policy.toml:/etc/lead-sla/policy.toml:ro \
#       -p 9108:9108 lead-sla
#
# Metrics, liveness and readiness on port 9108 (LEADSLA_METRICS_PORT): /metrics, /healthz,
# /readyz (200 once the worker has partitions assigned and its table recovered; 503 before and
# during a rebalance). Kubernetes: livenessProbe /healthz, readinessProbe /readyz. The projector
# serves /healthz and /readyz (caught up with the topics) on the same port when started with
# `project --health-port 9108`, as the compose stack does, so the HEALTHCHECK below fits both.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# Only the runtime dependencies, at the versions of requirements.lock (which also pins the
# development tools); the wheel copies the package through its symlinked sub-packages. The slim
# image has no C compiler: the image runs the pure Python modules (LEADSLA_COMPILE=0, setup.py).
RUN python -m venv /opt/lead-sla \
    && /opt/lead-sla/bin/pip install --quiet pip==24.3.1 \
    && LEADSLA_COMPILE=0 /opt/lead-sla/bin/pip install --quiet -c requirements.lock .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/lead-sla/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    LEADSLA_WEB_HOST=0.0.0.0 LEADSLA_METRICS_PORT=9108 LEADSLA_LOG_FORMAT=json \
    LEADSLA_DATA_DIR=/var/lib/lead-sla
COPY --from=build /opt/lead-sla /opt/lead-sla
COPY examples/policy.toml /etc/lead-sla/policy.toml
RUN useradd --system --uid 10001 --home-dir /var/lib/lead-sla --create-home lead-sla
USER lead-sla
WORKDIR /var/lib/lead-sla
VOLUME /var/lib/lead-sla
EXPOSE 9108
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=2)"]
ENTRYPOINT ["lead-sla"]
CMD ["worker"]
