"""The operator: reconciles ``EnsemW2SExperiment`` resources into one Job per stage (see docs/operator.md).

Pure core (no kopf, no kubernetes client): ``naming`` (names, labels), ``jobs`` (Job and Service
builders), ``observe`` (what a Job and its pods say), ``plan`` (what to do next), ``redo`` (the
``ensemw2s.io/redo`` annotation), ``status_model`` (the typed status), ``spec_changes``, ``crd`` (the
generated CRD), ``errors``.

Runtime: ``k8s`` (the one idempotent helper over the official client), ``resource`` (the experiment
read into the typed manifest and status), ``handlers`` (Kopf triggers, login and the reconciler),
``deletion`` (artifacts deleted with the experiment), ``metrics`` (Prometheus), ``settings`` (the
command line, Kopf settings) and ``__main__`` (``python -m ensemw2s.operator``).

Nothing is imported here, so ``import ensemw2s.operator.naming`` stays free of kopf and kubernetes.
"""

__all__: list[str] = []
