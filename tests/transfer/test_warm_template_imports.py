"""A batch worker's transfer template imports torch._dynamo once for all its children (issue 16): the
first optimizer a process makes imports it (torch 2.x wraps Optimizer's methods with
torch._disable_dynamo), about a second that every transfer child paid in its make_optimizer."""

from __future__ import annotations

from grader.checks.transfer import PRELOAD, transfer_limits
from grader.sandbox import Limits, Session, warm

PROBE = "import sys\n\ndef dynamo_loaded():\n    return 'torch._dynamo' in sys.modules\n"
LIMITS = transfer_limits(Limits(), "cpu")  # a transfer child's (a CUDA build of torch maps more than 2 GB to import)


def test_a_transfer_child_of_a_warm_template_has_torch_dynamo_and_a_cold_one_does_not(tmp_path, monkeypatch):
    (tmp_path / "probe.py").write_text(PROBE)
    template = warm.Template(PRELOAD, 1)
    try:
        with Session(tmp_path, LIMITS, preload=PRELOAD, template=template) as warm_child:
            assert warm_child.warm
            assert warm_child.call("probe", "dynamo_loaded").value is True
    finally:
        template.close()
    monkeypatch.setenv("GRADER_SANDBOX_WARM", "0")
    with Session(tmp_path, LIMITS, preload=PRELOAD) as cold_child:  # (imports it when first used, as before)
        assert not cold_child.warm
        assert cold_child.call("probe", "dynamo_loaded").value is False
