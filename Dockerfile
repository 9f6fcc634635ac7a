# The service as an image, for platforms that take images instead of a Procfile.
#   docker build -t jobservice .
#   docker run -e REDIS_URL=redis://... -p 8000:8000 jobservice            # web (default)
#   docker run -e REDIS_URL=redis://... jobservice python -m jobs           # worker
# Not built in CI (no Docker engine there); the Procfile remains the reference.
# Python as in .python-version (what the Heroku buildpack installs).
FROM python:3.11-slim AS build
WORKDIR /src
# The same install as the Heroku buildpack's: requirements.txt (the project, pins from pyproject).
COPY pyproject.toml README.md requirements.txt ./
COPY jobs ./jobs
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 app
COPY --from=build /install /usr/local
USER app
WORKDIR /home/app
ENV PORT=8000 PYTHONUNBUFFERED=1 LOG_FORMAT=json
EXPOSE 8000
CMD ["sh", "-c", "exec uvicorn service.main:app --host 0.0.0.0 --port ${PORT} --proxy-headers --forwarded-allow-ips='*' --no-access-log"]
