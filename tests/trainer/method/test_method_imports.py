import subprocess
import sys

CHECK = (
    "import sys\n"
    "import ensemw2s.spec.results, ensemw2s.trainer.method, ensemw2s.trainer.report\n"
    "heavy = sorted(m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules)\n"
    "assert not heavy, heavy\n"
)


def test_method_and_report_import_without_torch_or_matplotlib(tmp_path):
    # A fresh interpreter outside the repository root (its `operator/` folder shadows the stdlib).
    completed = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
