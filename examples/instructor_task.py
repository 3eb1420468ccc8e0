"""An instructor's own transfer task: `[transfer] task = "instructor_task.py:make_task"`.

`make_task()` runs in the grader and returns the data and the name of the
function that builds the pretrained network; that function runs again inside
the sandbox, where `grader` is not importable, so import grader only inside
`make_task`. The grader gives this module a global `shipped_backbone` (the
shipped TinyResNet) in both places.

Swap in your own: for example a torchvision ResNet-18 with ImageNet weights you
keep on disk,

    def backbone():
        import torch, torchvision
        model = torchvision.models.resnet18(weights=None)
        model.load_state_dict(torch.load("/data/resnet18.pth", weights_only=True))
        return model

and your own images as arrays (N, 3, H, W) float32 with int64 labels. The
grader never downloads anything. Inside the sandbox the file system is read-only
and /tmp is private: keep the weights the backbone function reads outside /tmp.
"""


def backbone():
    """The pretrained network, its classifier head at `.fc` (an nn.Linear)."""
    return shipped_backbone()  # noqa: F821 - given by the grader when it loads this file


def make_task():
    from grader.reference import transfer_data as data

    splits = data.target_splits(seed=7)
    return {
        "backbone": "backbone",
        "train": splits["train"],
        "test": splits["test"],
        "num_classes": data.TARGET_CLASSES,
        "epochs": 6,
        "batch_size": 32,
    }
