"""``w2sctl validate``: a corpus of broken experiments, data files and models, each refused in one line
that names the field or file:line; the good variants pass; ``--cluster`` applies the API server's limits.

Every case is generated here (no fixture files): a base experiment on a local JSONL file, changed by one
edit. Nothing trains and torch is never imported.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ensemw2s.cli.main import main

ROWS = 100
SIZES = {"easy": 20, "val": 10, "hardTrain": 20, "hardTest": 10}


def good_rows(n: int = ROWS) -> list[dict[str, Any]]:
    """Two classes, difficulty spread independently of the label (both halves of an e2h split are mixed)."""
    return [{"text": f"item number {i}", "label": i % 2, "difficulty": (i * 37 % ROWS) / ROWS} for i in range(n)]


def base_manifest(source: str = "data.jsonl") -> dict[str, Any]:
    return {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "metadata": {"name": "broken"},
        "spec": {
            "seeds": [1, 2],
            "dataset": {"name": "local", "source": source, "sizes": dict(SIZES)},
            "weak": {"model": "tiny-weak"},
            "strong": {"model": "tiny-strong"},
        },
    }


@dataclass
class Case:
    """A folder with ``exp.yaml`` and the files it names, changed by one edit."""

    root: Path
    manifest: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.manifest["spec"]
        return spec

    @property
    def dataset(self) -> dict[str, Any]:
        dataset: dict[str, Any] = self.spec["dataset"]
        return dataset

    def jsonl(self, rows: list[Any], name: str = "data.jsonl") -> None:
        lines = (row if isinstance(row, str) else json.dumps(row) for row in rows)
        (self.root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def csv(self, text: str, name: str = "data.csv") -> None:
        (self.root / name).write_bytes(text.encode() if isinstance(text, str) else text)
        self.dataset["source"] = name

    def model_dir(self, name: str = "model") -> Path:
        """A minimal save_pretrained-style directory, written without torch."""
        directory = self.root / name
        directory.mkdir()
        (directory / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
        (directory / "tokenizer.json").write_text("{}")
        write_safetensors(directory / "model.safetensors")
        self.spec["strong"]["model"] = f"./{name}"
        return directory


def write_safetensors(path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))


Edit = Callable[[Case], None]


def rows_with(**changes: Any) -> Edit:
    """Row 3 (file line 3) changed: ``text=None`` etc.; ``drop=`` removes a field."""

    def edit(case: Case) -> None:
        rows = good_rows()
        drop = changes.pop("drop", None)
        rows[2].update(changes)
        if drop:
            del rows[2][drop]
        case.jsonl(rows)

    return edit


def raw_line(line: str, at: int = 2) -> Edit:
    """Line ``at + 1`` of the file replaced by raw text."""

    def edit(case: Case) -> None:
        rows: list[Any] = list(good_rows())
        rows[at] = line
        case.jsonl(rows)

    return edit


def dataset(**changes: Any) -> Edit:
    def edit(case: Case) -> None:
        case.dataset.update(changes)

    return edit


def spec(path: str, value: Any) -> Edit:
    def edit(case: Case) -> None:
        target = case.manifest
        keys = path.split(".")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value

    return edit


def both(*edits: Edit) -> Edit:
    def edit(case: Case) -> None:
        for each in edits:
            each(case)

    return edit


def write_bytes_at_line_4(case: Case) -> None:
    data = "\n".join(json.dumps(r) for r in good_rows()).encode()
    lines = data.split(b"\n")
    lines[3] = lines[3].replace(b"item", b"it\xe9m")
    (case.root / "data.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def labels_follow_difficulty(case: Case) -> None:
    case.jsonl([{"text": f"item {i}", "label": int(i >= ROWS // 2), "difficulty": i / ROWS} for i in range(ROWS)])


def one_class(case: Case) -> None:
    case.jsonl([{**row, "label": 1} for row in good_rows()])


def multiple_choice(**changes: Any) -> Edit:
    def edit(case: Case) -> None:
        rows: list[dict[str, Any]] = [
            {"question": f"question {i}?", "choices": ["yes", "no", "maybe"], "answer": i % 3, "difficulty": i / ROWS}
            for i in range(ROWS)
        ]
        rows[2].update(changes)
        case.jsonl(rows)

    return edit


def csv_good() -> str:
    return "text,label,difficulty\n" + "".join(f"item {i},{i % 2},{(i * 37 % ROWS) / ROWS}\n" for i in range(ROWS))


def csv_with(line: str, at: int = 3) -> Edit:
    def edit(case: Case) -> None:
        lines = csv_good().splitlines()
        lines[at - 1] = line
        case.csv("\n".join(lines) + "\n")

    return edit


def csv_mc(cell: str) -> Edit:
    def edit(case: Case) -> None:
        rows = "".join(f'question {i}?,"[""a"", ""b""]",{i % 2},{i / ROWS}\n' for i in range(ROWS))
        lines = ("question,choices,answer,difficulty\n" + rows).splitlines()
        lines[2] = f"question 2?,{cell},1,0.5"
        case.csv("\n".join(lines) + "\n")

    return edit


def model_edit(change: Callable[[Path], None]) -> Edit:
    def edit(case: Case) -> None:
        change(case.model_dir())

    return edit


def file_as_model(case: Case) -> None:
    (case.root / "weights.bin").write_text("x")
    case.spec["weak"]["model"] = "./weights.bin"


def directory_as_source(case: Case) -> None:
    (case.root / "folder.jsonl").mkdir()
    case.dataset["source"] = "folder.jsonl"


def truncate_weights(directory: Path) -> None:
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-5])


BROKEN: dict[str, tuple[Edit, str]] = {
    # --- the data file: exists, readable, parses
    "missing-file": (dataset(source="missing.jsonl"), "spec.dataset.source: file not found 'missing.jsonl'"),
    "directory": (
        directory_as_source,
        "spec.dataset.source: 'folder.jsonl' is a directory",
    ),
    "txt-suffix": (dataset(source="data.txt"), "spec.dataset.source: must be a JSONL or CSV file (.jsonl, .csv)"),
    "parquet": (dataset(source="data.parquet"), "(got 'data.parquet'); convert the file to JSONL or CSV"),
    "empty-file": (lambda c: c.jsonl([]), "spec.dataset.source: 'data.jsonl' holds no rows"),
    "blank-lines-only": (lambda c: c.jsonl(["", "  "]), "'data.jsonl' holds no rows"),
    "bad-json": (raw_line('{"text": "a", "label": 1'), "data.jsonl:3: invalid JSON"),
    "json-array-row": (raw_line('["a", 1]'), "data.jsonl:3: expected a JSON object, got list"),
    "not-utf8": (write_bytes_at_line_4, "data.jsonl:4: not valid UTF-8 (byte 0xe9"),
    # --- fields and their types
    "missing-label": (rows_with(drop="label"), "data.jsonl:3: missing field 'label' (fields: difficulty, text)"),
    "missing-text": (rows_with(drop="text"), "data.jsonl:3: missing field 'text'"),
    "text-null": (rows_with(text=None), "data.jsonl:3: field 'text' must be a non-empty string (got None)"),
    "text-empty": (rows_with(text="  "), "data.jsonl:3: field 'text' must be a non-empty string (got '  ')"),
    "text-number": (rows_with(text=42), "data.jsonl:3: field 'text' must be a non-empty string (got 42)"),
    "label-null": (rows_with(label=None), "data.jsonl:3: field 'label' must be a class index 0..K-1 (got None)"),
    "label-negative": (rows_with(label=-1), "data.jsonl:3: field 'label' must be a class index 0..K-1 (got -1)"),
    "label-float": (rows_with(label=1.5), "data.jsonl:3: field 'label' must be a class index 0..K-1 (got 1.5)"),
    "label-word": (rows_with(label="yes"), "data.jsonl:3: field 'label' must be a class index 0..K-1 (got 'yes')"),
    "label-above-num-classes": (
        both(rows_with(label=2), dataset(numClasses=2)),
        "data.jsonl:3: field 'label' must be below spec.dataset.numClasses = 2 (got 2)",
    ),
    "duplicate-id": (
        lambda c: c.jsonl([{**row, "id": "same" if i in (1, 4) else f"r{i}"} for i, row in enumerate(good_rows())]),
        "data.jsonl:5: duplicate id 'same' (first on line 2)",
    ),
    # --- classes
    "one-class": (one_class, "spec.dataset: a classifier needs examples of at least 2 classes (got only label 1)"),
    "labels-follow-difficulty": (labels_follow_difficulty, "spec.dataset.split: split easy holds only label 0"),
    # --- sizes against rows, after maxItems
    "too-few-rows-random": (
        both(lambda c: c.jsonl(good_rows(50)), dataset(split="random")),
        "spec.dataset.sizes: easy + val + hardTrain + hardTest = 60 but the pool holds 50 examples",
    ),
    "too-few-rows-e2h": (
        both(rows_with(), dataset(sizes={**SIZES, "easy": 45})),
        "spec.dataset.sizes: easy + val = 55 but the easy half holds 50 of 100 examples",
    ),
    "too-few-rows-kfold": (
        both(rows_with(), dataset(sizes={**SIZES, "hardTrain": 45}, difficulty={"method": "kfold"})),
        "hardTrain + hardTest = 55 but the hard half holds 50 of 100 examples",
    ),
    "max-items-below-sizes": (
        dataset(maxItems=50),
        "spec.dataset.sizes: easy + val + hardTrain + hardTest = 60 exceeds spec.dataset.maxItems (got 50)",
    ),
    "max-items-halves": (
        dataset(maxItems=64, sizes={"easy": 30, "val": 5, "hardTrain": 20, "hardTest": 9}),
        "easy + val = 35 but the easy half holds 32 of 64 examples spec.dataset.maxItems allows",
    ),
    "generated-default-size": (
        dataset(name="synthetic-sentiment", source=None, sizes={**SIZES, "easy": 3000}),
        "easy + val = 3010 but the easy half holds 3000 of 6000 generated examples (default size 6000)",
    ),
    # --- difficulty values (method column, the default)
    "difficulty-missing-everywhere": (
        lambda c: c.jsonl([{"text": f"t{i}", "label": i % 2} for i in range(ROWS)]),
        "data.jsonl: no row has a 'difficulty' value",
    ),
    "difficulty-missing-one-row": (rows_with(drop="difficulty"), "data.jsonl:3: has no 'difficulty' value"),
    "difficulty-word": (rows_with(difficulty="hard"), "data.jsonl:3: field 'difficulty' must be a finite number"),
    "difficulty-nan": (raw_line('{"text": "t", "label": 1, "difficulty": NaN}'), "(got nan)"),
    "difficulty-infinite": (raw_line('{"text": "t", "label": 1, "difficulty": Infinity}'), "(got inf)"),
    # --- multiple choice
    "one-choice": (multiple_choice(choices=["only"]), "data.jsonl:3: field 'choices' must be a list of at least 2"),
    "answer-out-of-range": (multiple_choice(answer=7), "data.jsonl:3: field 'answer' is neither a choice index 0..2"),
    "question-null": (multiple_choice(question=None), "data.jsonl:3: field 'question' must be a non-empty string"),
    "choice-null": (multiple_choice(choices=["a", None]), "data.jsonl:3: field 'choices' item 1 must be a non-empty"),
    "choice-counts-differ": (
        both(multiple_choice(choices=["a", "b"], answer=0), dataset(format="choices")),
        "spec.dataset.format: choices needs the same number of choices on every item",
    ),
    "num-classes-not-choices": (
        both(multiple_choice(), dataset(format="choices", numClasses=4)),
        "spec.dataset.numClasses: must equal the number of choices with format choices (got 4;",
    ),
    # --- CSV
    "csv-ragged-row": (csv_with("item 2,1,0.5,extra"), "data.csv:3: more cells than header columns (3)"),
    "csv-unclosed-quote": (csv_with('"item 2,1,0.5'), "data.csv:3: not valid CSV (unexpected end of data)"),
    "csv-quote-then-text": (csv_with('"item" 2,1,0.5'), "data.csv:3: not valid CSV"),
    "csv-not-utf8": (
        lambda c: c.csv(csv_good().encode().replace(b"item 5,", b"it\xe9m 5,")),
        "data.csv:7: not valid UTF-8",
    ),
    "csv-no-label-column": (
        lambda c: c.csv("text,difficulty\n" + "".join(f"t{i},0.5\n" for i in range(ROWS))),
        "data.csv:2: missing field 'label' (fields: difficulty, text)",
    ),
    "csv-choices-not-json": (csv_mc("a; b"), "data.csv:3: field 'choices' must be a JSON array (got 'a; b')"),
    # --- models
    "model-dir-missing": (spec("spec.strong.model", "./models/none"), "spec.strong.model: local directory does not"),
    "model-is-a-file": (
        file_as_model,
        "spec.weak.model: is a file; a local model must be a directory with config.json",
    ),
    "model-without-config": (model_edit(lambda d: (d / "config.json").unlink()), "has no config.json"),
    "model-config-not-json": (
        model_edit(lambda d: (d / "config.json").write_text('{"model_type": "bert",,}')),
        "config.json:1: not valid JSON (Expecting property name enclosed in double quotes, column 23)",
    ),
    "model-weights-truncated": (
        model_edit(truncate_weights),
        "model.safetensors' is damaged (81 bytes but its header describes 86: truncated or overwritten)",
    ),
    "model-weights-header-garbage": (
        model_edit(lambda d: (d / "model.safetensors").write_bytes(struct.pack("<Q", 4) + b"{{{{")),
        "model.safetensors' is damaged (its header is not valid JSON)",
    ),
    "model-without-weights": (model_edit(lambda d: (d / "model.safetensors").unlink()), "has no weights"),
    "model-without-tokenizer": (model_edit(lambda d: (d / "tokenizer.json").unlink()), "has no tokenizer"),
    "hub-id-space": (spec("spec.strong.model", "org/na me"), "spec.strong.model: is not a well-formed Hugging Face id"),
    "hub-id-three-parts": (spec("spec.strong.model", "a/b/c"), "has at most one '/' (org/name)"),
    "hub-id-leading-dash": (spec("spec.strong.model", "-org/name"), "starts and ends with a letter or digit"),
    "hub-id-too-long": (spec("spec.strong.model", "org/" + "n" * 97), "at most 96 characters (one has 97)"),
    "hub-id-empty-part": (spec("spec.strong.model", "org/"), "has no empty part"),
    "preset-typo": (spec("spec.weak.model", "tiny-wek"), "did you mean 'tiny-weak'?"),
}


def make_case(root: Path, edit: Edit) -> Path:
    case = Case(root, base_manifest())
    case.jsonl(good_rows())
    edit(case)
    path = root / "exp.yaml"
    path.write_text(yaml.safe_dump(case.manifest))
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths in the experiments resolve against the case's folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_input_is_refused_in_one_line(name: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit, expected = BROKEN[name]
    path = make_case(in_tmp, edit)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert f"Error: {path}: " in err
    for bare in ("Traceback", "JSONDecodeError", "UnicodeDecodeError", "SafetensorError", "csv.Error", "KeyError"):
        assert bare not in err


def test_the_corpus_is_large() -> None:
    assert len(BROKEN) >= 50


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda c: None, id="jsonl"),
        pytest.param(lambda c: c.csv("\ufeff" + csv_good()), id="csv-with-bom"),
        pytest.param(dataset(split="random"), id="random-split"),
        pytest.param(both(multiple_choice(), dataset(format="choices")), id="multiple-choice"),
        pytest.param(model_edit(lambda d: None), id="local-model"),
        pytest.param(dataset(difficulty={"method": "proxy"}, source="plain.jsonl"), id="proxy-without-column"),
    ],
)
def test_good_variants_pass(edit: Edit, in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def with_plain_file(case: Case) -> None:
        case.jsonl([{"text": f"t {i}", "label": i % 2} for i in range(ROWS)], name="plain.jsonl")
        edit(case)

    path = make_case(in_tmp, with_plain_file)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == f"{path}: valid (default/broken)"


@pytest.mark.parametrize(("offline", "says"), [(True, "HF_HUB_OFFLINE is set"), (False, "fetched from the Hugging")])
def test_hub_model_not_in_the_cache_is_a_warning(
    offline: bool, says: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(in_tmp / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(in_tmp / "empty-cache"))
    path = make_case(in_tmp, spec("spec.strong.model", "some-org/some-model"))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: spec.strong.model: is not in the local Hugging Face cache (got 'some-org/some-model')" in err
    assert says in err


def cluster_case(root: Path, edit: Edit) -> Path:
    def on_cluster(case: Case) -> None:
        case.spec["storage"] = {"pvc": {"claimName": "artifacts"}}
        edit(case)

    return make_case(root, on_cluster)


CLUSTER_BROKEN: dict[str, tuple[Edit, str]] = {
    "annotations-over-256k": (
        spec("metadata.annotations", {"note": "x" * 300 * 1024}),
        "metadata.annotations: total size must be at most 262144 bytes (256 KiB) (got '307204 bytes')",
    ),
    "label-key": (spec("metadata.labels", {"bad key!": "v"}), "metadata.labels['bad key!']: key name must be"),
    "label-value": (spec("metadata.labels", {"team": "v" * 64}), "metadata.labels['team']: must be a label value"),
    "annotation-key": (spec("metadata.annotations", {"-x": "1"}), "metadata.annotations['-x']: key name must be"),
    "node-selector": (
        spec("spec.scheduling", {"nodeSelector": {"gpu": "a b"}}),
        "spec.scheduling.nodeSelector['gpu']: must be a label value",
    ),
    "claim-name": (spec("spec.storage", {"pvc": {"claimName": "Artifacts"}}), "spec.storage.pvc.claimName: must be a"),
    "secret-ref": (spec("spec.storage.secretRef", "s3_creds"), "spec.storage.secretRef: must be a DNS-1123 subdomain"),
    "queue-name": (spec("spec.scheduling", {"queueName": "q" * 64}), "spec.scheduling.queueName: must be a label"),
    "priority-class": (spec("spec.scheduling", {"priorityClassName": "High"}), "spec.scheduling.priorityClassName"),
    "name-too-long": (spec("metadata.name", "n" * 64), "metadata.name: must have at most 63 characters"),
    "name-not-dns": (spec("metadata.name", "My_Experiment"), "metadata.name: must be a DNS label"),
}


@pytest.mark.parametrize("name", list(CLUSTER_BROKEN))
def test_cluster_limits_are_refused(name: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit, expected = CLUSTER_BROKEN[name]
    path = cluster_case(in_tmp, edit)
    assert main(["validate", "--cluster", str(path)]) == 1
    assert expected in capsys.readouterr().err


def test_cluster_validation_does_not_read_local_files(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On a cluster the source names a file in the pods (checked by the prepare stage), not here."""
    path = cluster_case(in_tmp, dataset(source="/data/in-the-pod.jsonl"))
    assert main(["validate", "--cluster", str(path)]) == 0, capsys.readouterr().err


def test_the_longest_name_gives_valid_job_names(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ensemw2s.cli.validate import derived_name_problems
    from ensemw2s.spec import load_manifest

    path = cluster_case(in_tmp, spec("metadata.name", "n" * 63))
    assert main(["validate", "--cluster", str(path)]) == 0, capsys.readouterr().err
    assert derived_name_problems(load_manifest(path)) == []


def test_validate_does_not_import_torch(in_tmp: Path) -> None:
    path = make_case(in_tmp, model_edit(lambda d: None))
    code = (
        "import sys\nfrom ensemw2s.cli.main import main\n"
        f"code = main(['validate', {str(path)!r}])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'kubernetes', 'kopf') if m in sys.modules)\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=in_tmp, capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
