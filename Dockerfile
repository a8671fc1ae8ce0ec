# The pipeline image: one image, one process per container. The command picks the process:
#   docker run IMAGE ingress   # webhooks and the admin API, port 8080
#   docker run IMAGE worker    # the faust agents, web port 6066 (/healthz, /readyz, /metrics)
#   docker run IMAGE poller    # REST polling, port 8081
#   docker run IMAGE topics apply
# Configuration is PIPELINE_* environment variables (docs/reference/settings.md); docker-compose.yml sets them.
FROM python:3.11-slim

# No .pyc files in the image layers; log lines reach `docker logs` at once.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies are pinned in pyproject.toml; the package is installed, not run from the source tree.
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY topics ./topics
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin pipeline \
    && mkdir -p /data \
    && chown pipeline:pipeline /data

# Listen on every interface inside the container; keep the workers' rocksdb state under /data;
# read the topic manifest and schemas from the image (an installed package has no repo root).
ENV PIPELINE_BIND_HOST=0.0.0.0 \
    PIPELINE_DATA_DIR=/data \
    PIPELINE_TOPICS_DIR=/app/topics \
    PIPELINE_KAFKA_BOOTSTRAP=kafka:9092

# Each container gets its own /data: a worker's state is a cache of its changelog topics, rebuilt
# from Kafka when a container is replaced, so replicas must never share it.
VOLUME /data
USER pipeline
EXPOSE 8080 6066 8081
ENTRYPOINT ["pipeline"]
CMD ["--help"]
