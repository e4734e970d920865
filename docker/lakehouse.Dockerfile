# syntax=docker/dockerfile:1
# The project's one image for docker-compose.yml: the `lakehouse` CLI with the pinned Python stack
# (constraints.txt), the Spark Thrift Server (pyspark's Spark + the Delta jars), dbt, Prefect and
# the Streamlit app. The compose file picks the command per service. Build context: the repo root.

# --- the Thrift Server's extra jars, fetched with the same pom as scripts/setup.sh ---------------
FROM maven:3.9-eclipse-temurin-17 AS jars
WORKDIR /src
COPY spark_thrift/pom.xml spark_thrift/pom.xml
RUN --mount=type=cache,target=/root/.m2 \
    mvn -q -B -f spark_thrift/pom.xml dependency:copy-dependencies

# --- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
# Spark 4.1 needs Java 17+; Debian bookworm's headless JRE is 17.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user; DATA_DIR is created here so a new named volume mounted on it inherits the
# ownership.
RUN useradd --create-home --uid 10001 lakehouse \
    && mkdir -p /var/lib/lakehouse \
    && chown lakehouse:lakehouse /var/lib/lakehouse
WORKDIR /opt/lakehouse

# Dependencies first (their layer is reused while only the code changes). The project is
# installed editable because settings resolve dbt_spotify/, spark_thrift/ and the seeds from the
# source tree (lakehouse/settings.py REPO_ROOT).
COPY pyproject.toml constraints.txt ./
COPY lakehouse/__init__.py lakehouse/__init__.py
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install -c constraints.txt -e .
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip install --no-deps -c constraints.txt -e .
COPY --from=jars /src/spark_thrift/jars/ spark_thrift/jars/

ENV PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/var/lib/lakehouse \
    PYTHONUNBUFFERED=1
USER lakehouse
CMD ["lakehouse", "--help"]
