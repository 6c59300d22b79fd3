"""The stages of ``task: generation``: the same graph, store and records as classification.

One module per stage kind, named as classification's (``prepare``, ``weak``, ``aggregate``, ``strong``);
the report stage is shared. Samples are answer tokens, learners are causal LMs, the ensemble decodes.
"""
