# The one trainer image every stage Job runs: python -m ensemw2s.trainer <stage> ...
# CUDA PyTorch base; build from the repository root:
#   docker build -f docker/trainer.Dockerfile -t ghcr.io/ensemw2s/trainer:0.1.0 .
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HOME=/tmp/hf PIP_NO_CACHE_DIR=1
WORKDIR /opt/ensemw2s
COPY pyproject.toml README.md ./
COPY spec ./spec
COPY trainer ./trainer
COPY operator ./operator
COPY cli ./cli
# torch comes from the base image; the floor in pyproject accepts it.
RUN pip install ".[train,hub,quickstart]" && useradd --uid 1000 --create-home w2s
USER 1000
WORKDIR /tmp
ENTRYPOINT []
CMD ["python", "-m", "ensemw2s.trainer", "--help"]
