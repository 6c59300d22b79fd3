# The operator image: Kopf + the Kubernetes client + the spec models. No torch: it installs the
# `operator` extra only, pinned by docker/operator-requirements.lock (docs/images.md). Build from the
# repository root, for both architectures:
#   docker buildx build --platform linux/amd64,linux/arm64 -f docker/operator.Dockerfile -t ghcr.io/ensemw2s/operator:0.1.0 .
FROM python:3.11-slim

# The release (spec/images.py VERSION; the image build workflow passes it) and the commit.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ensemw2s-operator" \
      org.opencontainers.image.description="EnsemW2S operator: reconciles EnsemW2SExperiment resources into one Job per stage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"

# The root filesystem is read-only in the operator's pod (manifests/install/operator.yaml): home is its
# /tmp emptyDir.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp
WORKDIR /opt/ensemw2s

# The locked packages first: this layer is rebuilt only when the lock changes, not with every code change.
COPY docker/operator-requirements.lock ./docker/
RUN pip install -r docker/operator-requirements.lock

COPY pyproject.toml README.md ./
COPY spec ./spec
COPY trainer ./trainer
COPY operator ./operator
COPY cli ./cli
# Installs only ensemw2s itself; then fails the build if torch got in.
RUN pip install -c docker/operator-requirements.lock ".[operator]" \
 && python -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch is in the operator image'" \
 && (id -u 1000 >/dev/null 2>&1 || useradd --uid 1000 --user-group --no-create-home --home-dir /tmp w2s)

# The Deployment runs it as 1000 (manifests/install/operator.yaml).
USER 1000:1000
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "ensemw2s.operator"]
CMD ["--all-namespaces"]
