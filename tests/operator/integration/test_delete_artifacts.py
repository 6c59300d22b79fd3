EXPERIMENTS = "/apis/ensemw2s.io/v1alpha1/namespaces/default/ensemw2sexperiments"


async def test_probe(cluster):
    _, owner = await cluster.call("POST", EXPERIMENTS, {"metadata": {"name": "e", "finalizers": ["x/y"]}})
    ref = {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "name": "e",
        "uid": owner["metadata"]["uid"],
    }
    await cluster.call(
        "POST", "/apis/batch/v1/namespaces/default/jobs", {"metadata": {"name": "j", "ownerReferences": [ref]}}
    )
    code, data = await cluster.call("DELETE", f"{EXPERIMENTS}/e")
    print("DELETE", code, data)
    print("stored", cluster.read("ensemw2s.io/v1alpha1/ensemw2sexperiments", "default", "e"))
    print("jobs", cluster.jobs())
    code, data = await cluster.call("PATCH", f"{EXPERIMENTS}/e", {"metadata": {"annotations": {"a": "b"}}})
    print("PATCH", code, data)
    async with cluster.request(
        "PATCH",
        f"{EXPERIMENTS}/e",
        json=[
            {"op": "test", "path": "/metadata/resourceVersion", "value": data["metadata"]["resourceVersion"]},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ],
        headers={"Content-Type": "application/json-patch+json"},
    ) as r:
        print("JSONPATCH", r.status, await r.text())
    print("stored", cluster.read("ensemw2s.io/v1alpha1/ensemw2sexperiments", "default", "e"))
    print("jobs", cluster.jobs())
