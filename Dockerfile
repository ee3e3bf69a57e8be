# Upward: one image for every process. The command is an `upward` subcommand:
#   docker run IMAGE serve --host 0.0.0.0 --port 8000 | worker | scheduler | migrate | tenants apply FILE...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 upward \
    && useradd --system --uid 10001 --gid upward --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin upward

WORKDIR /app

# Only what the running service needs (no tests, bench or local data).
# README.md: pyproject.toml names it as the package's readme.
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY workers ./workers
COPY migrations ./migrations
COPY tenants ./tenants

# Editable on purpose: `upward migrate` finds alembic.ini and migrations/ next to the source
# tree, and a built wheel would contain neither.
RUN pip install -e .

# Evidence files (and anything else the service keeps on disk) live in /data: mount a volume
# there, shared by the API and the workers (docker-compose.yml does).
RUN mkdir -p /data && chown upward:upward /data
ENV UPWARD_DATA_DIR=/data

USER upward

EXPOSE 8000
ENTRYPOINT ["upward"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
