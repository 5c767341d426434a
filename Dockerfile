# The bot in a small image: it runs as a non-root user and keeps its database on a volume.
# Build: docker build -t crew-review .
# Run:   docker run --env-file .env -p 3000:3000 -v crew-review-data:/data crew-review
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md manifest.yml ./
COPY bot ./bot
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir /data \
    && chown bot /data

USER bot
ENV BOT_DATABASE=/data/crew-review.db \
    BOT_HOST=0.0.0.0 \
    BOT_PORT=3000
VOLUME ["/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=15s \
    CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ['BOT_PORT'], timeout=4)"

# Exec form: the bot is PID 1 and gets SIGTERM itself, so a stop finishes its work in hand.
CMD ["python", "-m", "bot"]
