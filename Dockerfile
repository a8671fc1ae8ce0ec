# The pipeline image: one image, one process per container (`pipeline ingress|worker|poller`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY topics ./topics
RUN pip install --no-cache-dir .
# Listen on every interface inside the container; keep state in a volume; read the manifest from /app.
ENV PIPELINE_BIND_HOST=0.0.0.0 \
    PIPELINE_DATA_DIR=/data \
    PIPELINE_TOPICS_DIR=/app/topics \
    PIPELINE_KAFKA_BOOTSTRAP=kafka:9092
VOLUME /data
ENTRYPOINT ["pipeline"]
