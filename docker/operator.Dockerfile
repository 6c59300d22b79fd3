# The operator image: Kopf + the Kubernetes client + the spec models. No torch.
#   docker build -f docker/operator.Dockerfile -t ghcr.io/ensemw2s/operator:0.1.0 .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/ensemw2s
COPY pyproject.toml README.md ./
COPY spec ./spec
COPY trainer ./trainer
COPY operator ./operator
COPY cli ./cli
RUN pip install ".[operator]" && useradd --uid 1000 --create-home w2s
USER 1000
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "ensemw2s.operator"]
CMD ["--all-namespaces"]
