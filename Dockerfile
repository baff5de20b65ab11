# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY billing ./billing
COPY migrations ./migrations
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BILLING_HOST=0.0.0.0 BILLING_PORT=8080 BILLING_LOG_FORMAT=json \
    BILLING_DATA_DIR=/var/lib/fleet-billing
# WeasyPrint (statement PDFs) loads Pango, HarfBuzz (its subsetter too, for reproducible font
# subsets) and fontconfig at run time; the template's font is DejaVu Sans.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /var/lib/fleet-billing --create-home billing
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER billing
WORKDIR /var/lib/fleet-billing
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('BILLING_PORT', '8080')}/healthz\", timeout=2)"]
ENTRYPOINT ["billing"]
CMD ["serve"]
