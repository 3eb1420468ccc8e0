"""The transfer-learning part: a small pretrained CNN, two image tasks, a budget.

Students write ``transfer.py``::

    build_model(pretrained, num_classes, mode) -> nn.Module
    make_optimizer(model, mode) -> torch.optim.Optimizer

with ``mode`` one of

- ``"feature_extractor"``: keep the pretrained network frozen
  (``requires_grad = False`` on every backbone parameter), replace its head
  ``pretrained.fc`` with a new ``nn.Linear(pretrained.fc.in_features,
  num_classes)``, and let the optimizer update that head only;
- ``"fine_tune"``: replace the head the same way and train everything,
  starting from the pretrained weights, with a smaller learning rate for the
  pretrained layers than for the new head (two parameter groups), so that the
  few target images adjust the features rather than overwrite them.

Which one to use, after the cs231n notes (CS231n, "Transfer Learning")::

                      similar to the pretraining data     very different
    little data       linear classifier on the top-layer  linear classifier on activations
                      features (the rest frozen)          from earlier layers
    a lot of data     fine-tune a few top layers          fine-tune a larger number of layers
                      (smaller learning rate)             (or all of them, from the pretrained weights)

With little data, training many weights overfits; the further the new images
are from the pretraining data, the less the top layers' (most
dataset-specific) features fit them.  The graded task sits in the first
column: a few hundred images of new shapes, related to the pretraining shapes.

The pieces:

- ``model``: ``TinyResNet`` (stem, three stages of residual blocks with
  GroupNorm, global average pooling, ``fc``; 78k parameters) and
  ``pretrained_backbone()``, which loads the shipped weights
  (``weights/tinyresnet_shapes10.pt``, made by ``scripts/train_backbone.py``);
- ``sizes``: the task's public numbers (classes, image size, ``EPOCHS``,
  ``BATCH_SIZE``, split sizes);
- ``budget``: the one training loop (``train``) and ``predict`` that every
  pipeline is graded with;
- ``harness``: the trusted functions the grader calls inside the sandbox.

The hidden half lives with the references (``grader.reference``), out of every
student child's sight and out of what students install:
``transfer_data``, the procedurally generated tasks (``make_source``, 10 shape
classes for pretraining; ``make_target``, 4 new shapes in another drawing style;
``graded_splits(seed)``, 300 training and 200 test images drawn fresh from each
grading seed), and ``transfer_solution``, the correct ``build_model`` and
``make_optimizer``, graded alongside each submission to set the accuracy bar.

``model``, ``sizes``, ``budget`` and ``harness`` are loaded by path inside the
sandboxed child, where ``grader`` is not importable: they import only the
standard library, numpy, torch and each other (relatively).  This file imports
nothing.
"""
